//! The write generation of a database: a counter every latch process using the same
//! SQLite file moves around each use of its pool, and reads before trusting a session
//! check it remembers (see `sqlite_read`).
//!
//! For a SQLite file the counter lives in a small file beside it (`<db>-latch-gen`),
//! mapped shared into every latch process that opens the database, so a logout on one
//! instance is seen by the next check on another without a database read. Only latch
//! moves it: other programs writing the database are seen within the remembered
//! answers' freshness bound.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counter: shared through a mapped file, or private to the process.
pub struct Generation {
    inner: Inner,
}

enum Inner {
    Local(AtomicU64),
    #[cfg(unix)]
    Shared(SharedMap),
}

impl Generation {
    /// A counter only this process sees (PostgreSQL, in-memory SQLite).
    pub fn local() -> Generation {
        Generation {
            inner: Inner::Local(AtomicU64::new(0)),
        }
    }

    /// The counter shared by every latch process using the SQLite file `db`.
    pub fn beside(db: &Path) -> std::io::Result<Generation> {
        #[cfg(unix)]
        {
            let mut name = db.as_os_str().to_owned();
            name.push("-latch-gen");
            Ok(Generation {
                inner: Inner::Shared(SharedMap::open(Path::new(&name))?),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = db;
            Ok(Generation::local())
        }
    }

    fn counter(&self) -> &AtomicU64 {
        match &self.inner {
            Inner::Local(c) => c,
            #[cfg(unix)]
            Inner::Shared(m) => m.counter(),
        }
    }

    pub fn load(&self) -> u64 {
        self.counter().load(Ordering::Acquire)
    }

    pub fn bump(&self) {
        self.counter().fetch_add(1, Ordering::AcqRel);
    }
}

/// One page of a file, mapped shared; its first eight bytes are the counter.
#[cfg(unix)]
struct SharedMap {
    ptr: std::ptr::NonNull<libc::c_void>,
}

#[cfg(unix)]
const MAP_LEN: usize = 4096;

// SAFETY: the mapping is only ever accessed through `AtomicU64` operations.
#[cfg(unix)]
unsafe impl Send for SharedMap {}
// SAFETY: as above; atomics are safe to share between threads (and processes).
#[cfg(unix)]
unsafe impl Sync for SharedMap {}

#[cfg(unix)]
impl SharedMap {
    fn open(path: &Path) -> std::io::Result<SharedMap> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        // Growing with set_len zero-fills; a file already this long keeps its value.
        if file.metadata()?.len() < MAP_LEN as u64 {
            file.set_len(MAP_LEN as u64)?;
        }
        // SAFETY: maps MAP_LEN bytes of a file at least that long; the mapping outlives
        // the descriptor (closed when `file` drops) by POSIX semantics.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAP_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        std::ptr::NonNull::new(ptr)
            .map(|ptr| SharedMap { ptr })
            .ok_or_else(|| std::io::Error::other("mmap returned null"))
    }

    fn counter(&self) -> &AtomicU64 {
        // SAFETY: the mapping is page-aligned (so 8-byte aligned), at least 8 bytes
        // long, lives as long as `self`, and is only accessed atomically.
        unsafe { AtomicU64::from_ptr(self.ptr.as_ptr().cast::<u64>()) }
    }
}

#[cfg(unix)]
impl Drop for SharedMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`; no reference to it
        // outlives `self` (`counter` borrows `self`).
        unsafe {
            libc::munmap(self.ptr.as_ptr(), MAP_LEN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_openings_of_one_file_share_the_counter() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("latch.db");
        let a = Generation::beside(&db).unwrap();
        let b = Generation::beside(&db).unwrap();
        let start = b.load();
        a.bump();
        a.bump();
        assert_eq!(b.load(), start + 2);
        drop(a);
        let c = Generation::beside(&db).unwrap();
        assert_eq!(c.load(), start + 2, "reopening keeps the value");
    }
}
