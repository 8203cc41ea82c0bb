import { builder } from './builder.ts';

builder.objectType('QuantileValue', {
  fields: (t) => ({
    quantile: t.exposeFloat('quantile'),
    value: t.exposeFloat('value'),
  }),
});
