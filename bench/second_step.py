#!/usr/bin/env python3
"""Users with two-factor on for bench/run figure 7 (driven by bench/second_step.lua).

  second_step.py seed URL OUTBOX N    makes N verified users with two-factor on through
                                      the API; prints "email secret step" for each
  second_step.py codes USERS SECS     the codes each user's app shows over the next SECS
                                      seconds: the first step, then "email next code
                                      code ..." (next: the first step it has not used)

Codes are computed from the secrets (RFC 6238), as an authenticator app does.
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
                        text = open(f, errors="replace").read()
                        if "X-Latch-Notice" in text:
                            self.seen.add(f)  # a notice, not a link
                            continue
                        to = re.search(r"^To: .*?([^<\s]+@[^>\s]+)", text, re.M)
                        m = re.search(r"^(http://\S*verify-email\S*)", text, re.M)
                        # A file still being written is read again on the next pass.
                        if to and m:
                            self.seen.add(f)
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


def codes(users, secs):
    first = int(time.time()) // 30 - 1
    steps = range(first, first + int(secs) // 30 + 4)
    print(first)
    for line in open(users):
        if line.strip():
            email, secret, used = line.split()
            print(email, int(used) + 1, " ".join(code(secret, s) for s in steps))


def main():
    mode = sys.argv[1]
    if mode == "codes":
        codes(sys.argv[2], float(sys.argv[3]))
        return
    if mode == "seed":
        seed(sys.argv[2], sys.argv[3], int(sys.argv[4]))


if __name__ == "__main__":
    main()
