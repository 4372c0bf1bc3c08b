#!/usr/bin/env python3
"""Cold start of the Lambda binary: time from exec to its first request for an event, with no network.

A minimal Lambda Runtime API on 127.0.0.1 records when `GET /2018-06-01/runtime/invocation/next` first arrives,
serves samples/events/small.json once, checks the response, and stops the process at its next poll. Prints the
median and min-max over N runs. With LOGMETER_TEST_S3_URL set (tests/servers.sh), the invocation delivers to that
S3 server and must report no failure; without it, S3 is a closed port and the answer must report the first record.

Usage: python3 benches/cold_start.py [runs] [binary]   (default 21, target/release/logmeter-lambda)
"""
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
S3 = os.environ.get("LOGMETER_TEST_S3_URL")
BUCKET = f"coldstart-{os.getpid()}"
EVENT = open(os.path.join(ROOT, "samples/events/small.json"), "rb").read()


class Api(http.server.BaseHTTPRequestHandler):
    state = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        st = Api.state
        st["polls"] += 1
        if st["polls"] == 1:
            st["ready"] = time.perf_counter()
        if st["polls"] > 1:
            st["done"].set()
            time.sleep(5)  # the process is killed while it waits
            return
        st["served"] = time.perf_counter()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:logmeter")
        self.send_header("Content-Length", str(len(EVENT)))
        self.end_headers()
        self.wfile.write(EVENT)

    def do_POST(self):
        st = Api.state
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        st["answered"] = time.perf_counter()
        st["response"] = (self.path, body)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def run_once(binary):
    Api.state = {"polls": 0, "done": threading.Event()}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "logmeter",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_LEVEL": "WARN",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_ENDPOINT_URL": S3 or "http://127.0.0.1:9",
        "INGEST_BUCKET_NAME": BUCKET,
        "S3_MAX_ATTEMPTS": "1",
    }
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finished = Api.state["done"].wait(20)
    proc.kill()
    err = proc.communicate()[1].decode(errors="replace")
    server.shutdown()
    st = Api.state
    if not finished or "response" not in st:
        sys.exit(f"the function did not answer:\n{err}")
    path, body = st["response"]
    failures = json.loads(body).get("batchItemFailures") if path.endswith("/req-1/response") else None
    if failures is None or (S3 and failures) or (not S3 and len(failures) != 1):
        sys.exit(f"unexpected answer {path} {body!r}\n{err}")
    return (st["ready"] - start) * 1000, (st["answered"] - st["served"]) * 1000


def main():
    if S3:
        subprocess.run(["curl", "-fs", "-X", "PUT", f"{S3}/{BUCKET}"], check=True, stdout=subprocess.DEVNULL)
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    binary = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "target/release/logmeter-lambda")
    cold, invoke = zip(*(run_once(binary) for _ in range(runs)))
    print(f"cold start (exec -> first /next): median {statistics.median(cold):.1f} ms, min-max {min(cold):.1f}-{max(cold):.1f} ms, {runs} runs")
    print(f"first invocation (small sample):  median {statistics.median(invoke):.1f} ms, min-max {min(invoke):.1f}-{max(invoke):.1f} ms")


if __name__ == "__main__":
    main()
