import { anyValueToOtlpJson, anyValueToPlain, anyValueType } from '../src/model/values.ts';
import { builder } from './builder.ts';
import { AttributeTypeEnum } from './enums.ts';

builder.objectType('Attribute', {
  description: 'One attribute with its OTLP value type.',
  fields: (t) => ({
    key: t.exposeString('key'),
    type: t.field({ type: AttributeTypeEnum, resolve: (kv) => anyValueType(kv.value) }),
    value: t.field({
      type: 'JSON',
      nullable: true,
      description:
        'The value as plain JSON: INT as a number when it is a safe integer (at most 2^53 − 1 in magnitude), otherwise as a string; ' +
        'a NaN or infinite DOUBLE as the string "NaN", "Infinity" or "-Infinity"; -0 as 0.',
      resolve: (kv) => anyValueToPlain(kv.value),
    }),
    otlpValue: t.field({
      type: 'JSON',
      description:
        'The lossless OTLP/JSON AnyValue, e.g. {"intValue": "42"}; nested values keep their types too. NaN and infinite doubles as ' +
        'proto3 JSON writes them, {"doubleValue": "NaN"}, and -0 as {"doubleValue": "-0"} (a JSON number -0 reads as 0).',
      resolve: (kv) => anyValueToOtlpJson(kv.value),
    }),
  }),
});
