import { builder } from './builder.ts';

builder.objectType('ExponentialBuckets', {
  fields: (t) => ({
    offset: t.exposeInt('offset'),
    bucketCounts: t.exposeFloatList('bucketCounts'),
  }),
});
