#!/usr/bin/env python3
"""The whole flow, locally: CloudWatch Logs -> subscription filter -> Kinesis -> logmeter (the real Lambda binary)
-> S3 and OpenSearch, all on 127.0.0.1.

Log events are written into moto's CloudWatch Logs, whose subscription filter delivers gzip'd payloads into a moto
Kinesis stream. This script then plays the Lambda event source mapping: it reads the shard in order in batches,
hands each batch to the logmeter binary through a minimal Lambda Runtime API, and when the function reports
batchItemFailures it retries from the reported sequence number, as Lambda does. The bucket does not exist at first,
so the first invocation fails and is retried after the bucket is created: the retry must deliver every meter
record exactly once.

Usage (after `bash tests/servers.sh && source target/test-servers/env`):
  target/test-servers/venv/bin/python tests/flow/local_flow.py target/debug/logmeter-lambda
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
SEARCH_URL = os.environ["LOGMETER_TEST_OPENSEARCH_URL"]
REGION = "eu-west-1"
RUN = f"flow-{os.getpid()}"
BATCH_SIZE = 3


def client(service):
    return boto3.client(service, endpoint_url=S3_URL, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """Serves queued events on /next and collects responses."""
    events = queue.Queue()
    answers = queue.Queue()
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
        RuntimeApi.answers.put((self.path, body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def invoke(records, stream_arn, shard_id, n):
    event = {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"], "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(), "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp()},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard_id}:{r['SequenceNumber']}",
        "eventName": "aws:kinesis:record", "awsRegion": REGION, "eventSourceARN": stream_arn} for r in records]}
    RuntimeApi.events.put((f"req-{n}", json.dumps(event).encode()))
    path, body = RuntimeApi.answers.get(timeout=60)
    if path.endswith("/error"):
        sys.exit(f"the function failed: {body!r}")
    return [f["itemIdentifier"] for f in json.loads(body).get("batchItemFailures", [])]


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
    for i in range(5):
        rid = f"6bd1cb1c-8fb0-4b3d-a6c9-2f6a3a4d2f1{i}"
        record = {"customerId": f"c-{i % 2}", "meterApiName": "api-calls", "meterValue": 1,
                  "meterTimeInMillis": now + i, "uniqueId": f"{rid}#0"}
        expected.append(record)
        lines = [f"START RequestId: {rid} Version: $LATEST\n",
                 f"2026-11-20T10:00:0{i}.000Z\t{rid}\tINFO\tmeter_record_for_stream {json.dumps(record)}\n",
                 f"END RequestId: {rid}\n",
                 f"REPORT RequestId: {rid}\tDuration: 12.5{i} ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t\n"]
        logs.put_log_events(logGroupName=group, logStreamName="2026/11/20/[$LATEST]0123456789abcdef0123456789abcdef",
                            logEvents=[{"timestamp": now + i * 10 + j, "message": m} for j, m in enumerate(lines)])

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bucket = f"{RUN}-ingest"
    env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
           "AWS_LAMBDA_FUNCTION_NAME": "logmeter", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
           "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_LEVEL": "WARN", "AWS_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_ENDPOINT_URL": S3_URL,
           "INGEST_BUCKET_NAME": bucket, "S3_MAX_ATTEMPTS": "1", "SEARCH_URL": SEARCH_URL,
           "SEARCH_INDEX_PATTERN": f"{RUN}-metrics-%Y.%m.%d",
           # As on Lambda Managed Instances: two workers poll /next at once in one process.
           "AWS_LAMBDA_MAX_CONCURRENCY": "2"}
    function = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # The event source mapping: in order, BATCH_SIZE records at a time, retrying from a reported failure.
        shard_id = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        pending, invocations, retries = [], 0, 0
        while True:
            if len(pending) < BATCH_SIZE and iterator:
                got = kinesis.get_records(ShardIterator=iterator, Limit=100)
                pending += got["Records"]
                iterator = got.get("NextShardIterator") if got["Records"] else None
            if not pending:
                break
            batch = pending[:BATCH_SIZE]
            invocations += 1
            failed = invoke(batch, stream_arn, shard_id, invocations)
            if failed:
                retries += 1
                if retries > 3:
                    sys.exit(f"still failing after {retries} retries: {failed}")
                seq = min(failed, key=int)
                pending = pending[[r["SequenceNumber"] for r in pending].index(seq):]
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            else:
                pending = pending[len(batch):]
    finally:
        function.kill()
        err = function.communicate()[1].decode(errors="replace")

    got = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="ingest/records/"):
        for o in page.get("Contents", []):
            got += json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
    key = lambda r: r["uniqueId"]
    if sorted(got, key=key) != sorted(expected, key=key):
        sys.exit(f"S3 holds {got}, expected {expected}\n{err}")
    subprocess.run(["curl", "-s", "-XPOST", f"{SEARCH_URL}/{RUN}-metrics-*/_refresh"], capture_output=True)
    count = json.loads(subprocess.run(["curl", "-s", f"{SEARCH_URL}/{RUN}-metrics-*/_count"], capture_output=True).stdout)["count"]
    if count != 5:
        sys.exit(f"{count} report documents, expected 5\n{err}")
    if retries == 0:
        sys.exit("the first invocation should have failed (no bucket yet) and been retried")
    print(json.dumps({"invocations": invocations, "retries": retries, "meter_records_in_s3": len(got), "report_documents": count,
                      "concurrent_polls": RuntimeApi.most_waiting}))


if __name__ == "__main__":
    main()
