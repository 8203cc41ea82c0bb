import { builder } from './builder.ts';
import { StatusCodeEnum } from './enums.ts';

builder.objectType('SpanStatus', {
  fields: (t) => ({
    code: t.expose('code', { type: StatusCodeEnum }),
    message: t.exposeString('message'),
  }),
});
