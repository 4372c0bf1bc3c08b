"""Emit an Amberflo meter record from a Python Lambda function as a line logmeter extracts.

Write to stdout directly: with the JSON log format and an ApplicationLogLevel above INFO, Lambda drops
logging.info calls, and a dropped meter line is an unbilled request.
"""
import json
import sys
import time

TAG = "meter_record_for_stream"


def emit_meter(customer_id, meter_api_name, meter_value, meter_time_millis=None, unique_id=None, dimensions=None):
    record = {
        "customerId": customer_id,
        "meterApiName": meter_api_name,
        "meterValue": meter_value,
        "meterTimeInMillis": int(meter_time_millis if meter_time_millis is not None else time.time() * 1000),
    }
    if unique_id:
        record["uniqueId"] = unique_id
    if dimensions:
        record["dimensions"] = dimensions
    sys.stdout.write(f"{TAG} {json.dumps(record)}\n")
    sys.stdout.flush()
