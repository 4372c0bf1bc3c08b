#!/usr/bin/env python3
"""The whole flow, locally: CloudWatch Logs -> subscription filter -> Kinesis -> logmeter (the real Lambda binary)
-> S3 and OpenSearch, all on 127.0.0.1.

Log events are written into moto's CloudWatch Logs, whose subscription filter delivers gzip'd payloads into a moto
Kinesis stream. This script then plays the Lambda event source mapping: it reads the shard in order in batches,
hands each batch to the logmeter binary through a minimal Lambda Runtime API, and when the function reports
batchItemFailures it retries from the reported sequence number, as Lambda does. The bucket does not exist at first,
so the first invocation fails and is retried after the bucket is created: the retry must deliver every meter
record exactly once.

Scenarios (the second argument, `basic` by default) replay the ways Lambda re-delivers, each ending with the same
check, every meter record in the bucket exactly once (counted across all objects) and every report document in
the index exactly once:

- `basic`: in order, batches of 3, retrying from the reported sequence number (the bucket is missing at first);
- `new-boundaries`: a failed batch is retried from the reported record with another batch size;
- `bisect`: a failed batch is split in halves, each invoked again whole (BisectBatchOnFunctionError);
- `timeout`: the answer of a failed invocation is lost, as on a timeout, and the whole batch is invoked again;
- `concurrent`: the shard's records are dealt to two batches invoked at the same time (ParallelizationFactor 2);
- `replay`: the whole stream once more from TRIM_HORIZON with another batch size, as after an ESM reset;
- `backfill`: delivered live in order, then the same log group read again by `logmeter backfill` (the CLI named by
  LOGMETER_CLI) into the same bucket and index; half the records have no `uniqueId`, so logmeter derives it. The
  index must hold each report once (the same document ids), and the bucket each record once: the backfill finds
  the live route's records in the date's objects (every shard's) and leaves them out.

Faults inside an invocation come from the caller: with LOGMETER_FLOW_S3 (LOGMETER_FLOW_SEARCH) set, the function
reaches S3 (the search server) through that endpoint, the fault proxy of the Rust tests, which can fail the n-th
PUT or drop its answer after it landed. LOGMETER_FLOW_SEARCH_SERVER=LOGMETER_TEST_ELASTICSEARCH_URL counts the
documents on Elasticsearch instead of OpenSearch.

Usage (after `bash tests/servers.sh && source target/test-servers/env`):
  target/test-servers/venv/bin/python tests/flow/local_flow.py target/debug/logmeter-lambda [SCENARIO]
"""
import base64
import http.server
import json
import os
import queue
import subprocess
import sys
import threading
import time

import boto3

S3_URL = os.environ["LOGMETER_TEST_S3_URL"]
# The search server counted on (OpenSearch unless LOGMETER_FLOW_SEARCH_SERVER names Elasticsearch's variable), and
# the URL the function sends to (that server, or a fault proxy in front of it: LOGMETER_FLOW_SEARCH).
SEARCH_URL = os.environ[os.environ.get("LOGMETER_FLOW_SEARCH_SERVER", "LOGMETER_TEST_OPENSEARCH_URL")]
FUNCTION_SEARCH_URL = os.environ.get("LOGMETER_FLOW_SEARCH", SEARCH_URL)
REGION = "eu-west-1"
RUN = f"flow-{os.getpid()}"
BATCH_SIZE = 3
SCENARIO = sys.argv[2] if len(sys.argv) > 2 else "basic"
INVOCATIONS = 5 if SCENARIO == "basic" else 12


def client(service):
    return boto3.client(service, endpoint_url=S3_URL, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """Serves queued events on /next and collects responses."""
    events = queue.Queue()
    # One queue per request id: concurrent invocations get their own answers.
    answers = {}
    # How many /next polls waited at once, at most: the function's concurrent workers.
    lock = threading.Lock()
    waiting = 0
    most_waiting = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        with RuntimeApi.lock:
            RuntimeApi.waiting += 1
            RuntimeApi.most_waiting = max(RuntimeApi.most_waiting, RuntimeApi.waiting)
        request_id, body = RuntimeApi.events.get()
        with RuntimeApi.lock:
            RuntimeApi.waiting -= 1
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", f"arn:aws:lambda:{REGION}:123456789012:function:logmeter")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        request_id = self.path.split("/invocation/")[-1].split("/")[0]
        with RuntimeApi.lock:
            answers = RuntimeApi.answers.get(request_id)
        if answers is not None:
            answers.put((self.path, body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def invoke(records, stream_arn, shard_id, n):
    """One invocation; answers the sequence numbers the function reported."""
    event = {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"], "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(), "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp()},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard_id}:{r['SequenceNumber']}",
        "eventName": "aws:kinesis:record", "awsRegion": REGION, "eventSourceARN": stream_arn} for r in records]}
    answers = queue.Queue()
    with RuntimeApi.lock:
        RuntimeApi.answers[f"req-{n}"] = answers
    RuntimeApi.events.put((f"req-{n}", json.dumps(event).encode()))
    path, body = answers.get(timeout=60)
    if path.endswith("/error"):
        sys.exit(f"the function failed: {body!r}")
    return [f["itemIdentifier"] for f in json.loads(body).get("batchItemFailures", [])]


class Mapping:
    """The event source mapping: hands batches to the function the way the scenario says Lambda does."""

    def __init__(self, stream_arn, shard_id):
        self.stream_arn, self.shard_id = stream_arn, shard_id
        self.invocations, self.retries = 0, 0
        self.in_flight, self.most_in_flight = 0, 0
        self.lock = threading.Lock()

    def invoke(self, batch):
        with self.lock:
            self.invocations += 1
            n = self.invocations
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return invoke(batch, self.stream_arn, self.shard_id, n)
        finally:
            with self.lock:
                self.in_flight -= 1

    def retried(self):
        with self.lock:
            self.retries += 1
            if self.retries > 20:
                sys.exit(f"still failing after {self.retries} retries")

    def run(self, records, batch_size, on_failure):
        """Processes `records` in order; `on_failure(batch, failed)` answers the records to go on with."""
        pending = list(records)
        while pending:
            batch = pending[:batch_size]
            failed = self.invoke(batch)
            if failed:
                self.retried()
                pending = on_failure(batch, failed) + pending[len(batch):]
            else:
                pending = pending[len(batch):]

    def from_reported(self, batch, failed):
        seq = min(failed, key=int)
        return batch[[r["SequenceNumber"] for r in batch].index(seq):]

    def scenario(self, records, create_bucket):
        if SCENARIO == "basic":
            def retry(batch, failed):
                create_bucket()
                return self.from_reported(batch, failed)
            self.run(records, BATCH_SIZE, retry)
        elif SCENARIO == "new-boundaries":
            # From the reported record, in batches of 2 at first, then 7: other boundaries on every retry.
            def retry(batch, failed):
                rest = self.from_reported(batch, failed)
                self.run(rest, 2 if self.retries % 2 else 7, retry)
                return []
            self.run(records, 5, retry)
        elif SCENARIO == "bisect":
            def bisect(batch, failed):
                if len(batch) > 1:
                    half = len(batch) // 2
                    self.run(batch[:half], half, bisect)
                    self.run(batch[half:], len(batch) - half, bisect)
                    return []
                return batch
            self.run(records, 6, bisect)
        elif SCENARIO == "timeout":
            # The answer is lost: Lambda invokes the whole batch again.
            self.run(records, 5, lambda batch, failed: batch)
        elif SCENARIO == "concurrent":
            lanes = [records[0::2], records[1::2]]
            threads = [threading.Thread(target=self.run, args=(lane, 3, self.from_reported)) for lane in lanes]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        elif SCENARIO == "replay":
            self.run(records, 4, self.from_reported)
            self.run(records, 5, self.from_reported)
        elif SCENARIO == "backfill":
            self.run(records, 4, self.from_reported)
        else:
            sys.exit(f"unknown scenario {SCENARIO}")


def main():
    binary = sys.argv[1]
    logs, kinesis, s3 = client("logs"), client("kinesis"), client("s3")
    stream = f"{RUN}-logs"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    stream_arn = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["StreamARN"]
    group = f"/aws/lambda/{RUN}-checkout"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/11/20/[$LATEST]0123456789abcdef0123456789abcdef")
    logs.put_subscription_filter(logGroupName=group, filterName="logmeter", destinationArn=stream_arn,
                                 roleArn="arn:aws:iam::123456789012:role/cwl-to-kinesis",
                                 filterPattern='?"meter_record_for_stream" ?"REPORT RequestId"')

    # Five invocations of a Node.js function, each metering one call and reporting.
    now = int(time.time() * 1000)
    expected = []
    for i in range(INVOCATIONS):
        rid = f"6bd1cb1c-8fb0-4b3d-a6c9-2f6a3a4d2f{i:02}"
        record = {"customerId": f"c-{i % 2}", "meterApiName": "api-calls", "meterValue": 1,
                  "meterTimeInMillis": now + i, "uniqueId": f"{rid}#0"}
        if SCENARIO == "backfill" and i % 2:
            del record["uniqueId"]
        expected.append(record)
        lines = [f"START RequestId: {rid} Version: $LATEST\n",
                 f"2026-11-20T10:00:{i:02}.000Z\t{rid}\tINFO\tmeter_record_for_stream {json.dumps(record)}\n",
                 f"END RequestId: {rid}\n",
                 f"REPORT RequestId: {rid}\tDuration: 12.{i:02} ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t\n"]
        logs.put_log_events(logGroupName=group, logStreamName="2026/11/20/[$LATEST]0123456789abcdef0123456789abcdef",
                            logEvents=[{"timestamp": now + i * 10 + j, "message": m} for j, m in enumerate(lines)])

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bucket = f"{RUN}-ingest"
    env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
           "AWS_LAMBDA_FUNCTION_NAME": "logmeter", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
           "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_LEVEL": "WARN", "AWS_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_ENDPOINT_URL": S3_URL,
           "INGEST_BUCKET_NAME": bucket, "S3_MAX_ATTEMPTS": "1", "SEARCH_URL": FUNCTION_SEARCH_URL,
           "AWS_ENDPOINT_URL_S3": os.environ.get("LOGMETER_FLOW_S3", S3_URL),
           # Beyond the first scenario, two meter records per object: a fault can strike mid-batch, after some of
           # its objects landed, so every retry re-delivers records that are already in the bucket.
           "MAX_OBJECT_RECORDS": "1000" if SCENARIO == "basic" else "2",
           "SEARCH_INDEX_PATTERN": f"{RUN}-metrics-%Y.%m.%d",
           # As on Lambda Managed Instances: two workers poll /next at once in one process.
           "AWS_LAMBDA_MAX_CONCURRENCY": "2"}
    function = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if SCENARIO != "basic":
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    try:
        shard_id = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = []
        while iterator:
            got = kinesis.get_records(ShardIterator=iterator, Limit=100)
            records += got["Records"]
            iterator = got.get("NextShardIterator") if got["Records"] else None
        mapping = Mapping(stream_arn, shard_id)
        created = []

        def create_bucket():
            if not created:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
                created.append(bucket)
        backfilled = {}
        mapping.scenario(records, create_bucket)
        invocations, retries, most_in_flight = mapping.invocations, mapping.retries, mapping.most_in_flight
        if SCENARIO == "backfill":
            checkpoint = f"/tmp/{RUN}-backfill.json"
            iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))
            done = subprocess.run([os.environ["LOGMETER_CLI"], "backfill", "--log-group", group,
                                   "--start", iso(now - 3_600_000), "--end", iso(now + 3_600_000),
                                   "--checkpoint", checkpoint],
                                  env=env | {"AWS_ENDPOINT_URL_S3": S3_URL}, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"backfill failed: {done.stdout}\n{done.stderr}")
            backfilled.update(json.loads(done.stdout.strip().splitlines()[-1]))
            os.remove(checkpoint)
    finally:
        function.kill()
        err = function.communicate()[1].decode(errors="replace")

    got, objects = [], 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="ingest/records/"):
        for o in page.get("Contents", []):
            objects += 1
            got += json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
    if SCENARIO == "backfill":
        # Each record once, though two routes delivered it: the backfill left out what the live route had written
        # (which takes the same bytes, derived uniqueIds included).
        canonical = [json.dumps(r, sort_keys=True) for r in got]
        if len(canonical) != len(set(canonical)) or len(got) != len(expected):
            sys.exit(f"S3 holds {got}, expected each of {expected} once\n{err}")
        if backfilled.get("meter_records_already_present") != len(expected):
            sys.exit(f"the backfill should have found every record already there: {backfilled}")
    # uniqueIds logmeter derived (the logged ones carry `#`) are compared above, across the routes.
    strip = lambda rs: sorted(json.dumps({k: v for k, v in r.items() if not (k == "uniqueId" and "#" not in v)},
                                         sort_keys=True) for r in rs)
    if strip(got) != strip(expected):
        sys.exit(f"S3 holds {got}, expected {expected}\n{err}")
    subprocess.run(["curl", "-s", "-XPOST", f"{SEARCH_URL}/{RUN}-metrics-*/_refresh"], capture_output=True)
    count = json.loads(subprocess.run(["curl", "-s", f"{SEARCH_URL}/{RUN}-metrics-*/_count"], capture_output=True).stdout)["count"]
    if count != INVOCATIONS:
        sys.exit(f"{count} report documents, expected {INVOCATIONS}\n{err}")
    if retries == 0 and SCENARIO == "basic":
        sys.exit("the first invocation should have failed (no bucket yet) and been retried")
    print(json.dumps({"scenario": SCENARIO, "kinesis_records": len(records), "invocations": invocations,
                      "retries": retries, "meter_records_in_s3": len(got), "report_documents": count,
                      "ingest_objects": objects, "concurrent_polls": RuntimeApi.most_waiting,
                      "most_invocations_in_flight": most_in_flight}))


if __name__ == "__main__":
    main()
