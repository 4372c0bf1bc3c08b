// Emit an Amberflo meter record from a Node.js Lambda function as a line logmeter extracts.
//
// Write to stdout directly: with the JSON log format and an ApplicationLogLevel above INFO, Lambda drops
// console.log/console.info calls, and a dropped meter line is an unbilled request.
const TAG = "meter_record_for_stream";

function emitMeter({ customerId, meterApiName, meterValue, meterTimeInMillis = Date.now(), uniqueId, dimensions }) {
  const record = { customerId, meterApiName, meterValue, meterTimeInMillis: Math.floor(meterTimeInMillis) };
  if (uniqueId) record.uniqueId = uniqueId;
  if (dimensions) record.dimensions = dimensions;
  process.stdout.write(`${TAG} ${JSON.stringify(record)}\n`);
}

module.exports = { emitMeter };
