// The range of a signed 64-bit integer: OTLP's int values, and as nanoseconds since the epoch every
// instant teleql holds (up to 2262-04-11T23:47:16.854775807Z, also Elasticsearch's date_nanos limit).
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
