#!/usr/bin/env python3
"""Sign-ins with and without the second step, driven by one client so the two rates
compare latch alone (bench/run, figure 7).

  second_step.py seed URL OUTBOX N        makes N verified users with two-factor on;
                                          prints one "email secret" line each
  second_step.py plain URL EMAIL SECS C   password sign-ins of one user, C at a time
  second_step.py 2fa URL USERS SECS C     password then TOTP code, C at a time, over
                                          the users of USERS (a seed output file)

Each run prints "sign-ins/s". Codes are computed from the secrets (RFC 6238); a step is
used once per user, as latch accepts it, so the users take turns.
"""
import base64, glob, hmac, http.client, json, re, struct, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

PASSWORD = "correct horse battery staple"


def code(secret, step):
    h = hmac.digest(base64.b32decode(secret), struct.pack(">Q", step), "sha1")
    o = h[-1] & 15
    return "%06d" % ((int.from_bytes(h[o:o + 4], "big") & 0x7FFFFFFF) % 1000000)


class Client:
    def __init__(self, url):
        u = urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.cookies = {}

    def post(self, path, body):
        headers = {"Content-Type": "application/json"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request("POST", path, json.dumps(body), headers)
        r = self.conn.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";")[0]
        return r.status, (json.loads(data) if data else None)

    def get(self, path):
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        return r.status, r.read()


class Outbox:
    """Verification links by address, read from new files of the outbox folder."""

    def __init__(self, folder):
        self.folder = folder
        self.seen = set()
        self.links = {}
        self.lock = threading.Lock()

    def link(self, email):
        for _ in range(1200):
            with self.lock:
                if email not in self.links:
                    for f in glob.glob(f"{self.folder}/*.eml"):
                        if f in self.seen:
                            continue
                        self.seen.add(f)
                        text = open(f, errors="replace").read()
                        to = re.search(r"^To: .*?([^<\s]+@[^>\s]+)", text, re.M)
                        m = re.search(r"^(http://\S*verify-email\S*)", text, re.M)
                        if to and m:
                            self.links[to.group(1)] = m.group(1).strip()
                if email in self.links:
                    return self.links[email]
            time.sleep(0.05)
        raise SystemExit(f"no verification link for {email}")


def seed(url, outbox, n):
    mail = Outbox(outbox)

    def one(i):
        email = f"twofactor{i}@example.com"
        c = Client(url)
        s, _ = c.post("/auth/sign-up/email", {"email": email, "password": PASSWORD, "name": "Bench"})
        assert s == 200, s
        link = urlparse(mail.link(email))
        c.conn.request("GET", f"{link.path}?{link.query}")
        r = c.conn.getresponse(); r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                c.cookies[name] = rest.split(";")[0]
        s, e = c.post("/auth/two-factor/totp/enroll", {})
        assert s == 200, (s, e)
        # The step before now when it is still accepted: the user keeps two steps to
        # sign in with right away.
        now = int(time.time())
        step = now // 30 - 1 if now % 30 <= 25 else now // 30
        s, r2 = c.post("/auth/two-factor/totp/confirm", {"code": code(e["secret"], step)})
        assert s == 200, (s, r2)
        return f"{email} {e['secret']} {step}"

    with ThreadPoolExecutor(8) as pool:
        for line in pool.map(one, range(n)):
            print(line)


def drive(secs, conns, attempt):
    done = [0]
    lock = threading.Lock()
    end = time.time() + secs

    def worker(_):
        c = None
        while time.time() < end:
            c = c or attempt.client()
            if attempt(c):
                with lock:
                    done[0] += 1

    start = time.time()
    with ThreadPoolExecutor(conns) as pool:
        list(pool.map(worker, range(conns)))
    return done[0] / (time.time() - start)


class Plain:
    def __init__(self, url, email):
        self.url, self.email = url, email

    def client(self):
        return Client(self.url)

    def __call__(self, c):
        c.cookies = {}
        s, b = c.post("/auth/sign-in/email", {"email": self.email, "password": PASSWORD})
        return s == 200 and b.get("token")


class TwoStep:
    """Each user hands out the steps latch will accept from it: later than its last
    used step, within one step of now."""

    def __init__(self, url, users):
        self.url = url
        self.users = [[e, s, int(st) + 1] for e, s, st in (l.split() for l in open(users) if l.strip())]
        self.lock = threading.Lock()
        self.turn = 0
        self.waits = 0

    def client(self):
        return Client(self.url)

    def take(self):
        while True:
            now = time.time()
            cur, into = int(now) // 30, int(now) % 30
            lowest = cur - 1 if into <= 25 else (cur if into <= 28 else cur + 1)
            with self.lock:
                for _ in range(len(self.users)):
                    u = self.users[self.turn]
                    self.turn = (self.turn + 1) % len(self.users)
                    step = max(u[2], lowest)
                    if step <= cur + 1:
                        u[2] = step + 1
                        return u[0], u[1], step
                self.waits += 1
            time.sleep(0.05)

    def __call__(self, c):
        email, secret, step = self.take()
        c.cookies = {}
        s, b = c.post("/auth/sign-in/email", {"email": email, "password": PASSWORD})
        if s != 200 or not b.get("twoFactorRequired"):
            return False
        s, b = c.post("/auth/two-factor/verify", {"code": code(secret, step)})
        return s == 200 and b.get("token")


def main():
    mode = sys.argv[1]
    if mode == "seed":
        seed(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif mode == "plain":
        url, email, secs, conns = sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
        print("%.1f" % drive(secs, conns, Plain(url, email)))
    elif mode == "2fa":
        url, users, secs, conns = sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
        t = TwoStep(url, users)
        rate = drive(secs, conns, t)
        if t.waits:
            print(f"second_step: the user pool ran dry {t.waits} times", file=sys.stderr)
        print("%.1f" % rate)


if __name__ == "__main__":
    main()
