// Catalog queries (no type of their own): services and attribute keys and values, for building
// filters and Grafana variables. Without from/to they cover all stored data.
import { attributeKeys, attributeValues, services } from '../resolvers/catalog.ts';
import { builder } from './builder.ts';
import { AttributeSignalEnum } from './enums.ts';

builder.queryFields((t) => ({
  services: t.stringList({
    nullable: true,
    description: 'service.name values seen on spans, sorted.',
    args: { from: t.arg({ type: 'Timestamp' }), to: t.arg({ type: 'Timestamp' }) },
    resolve: (_, args, ctx) => services(ctx, args),
  }),
  attributeKeys: t.stringList({
    nullable: true,
    description:
      "Attribute keys of the signal's records themselves, sorted; their resources' keys are listed by signal RESOURCE " +
      "(METRIC lists its series' label keys: the points' attributes with service.name, service.namespace, service.instance.id and the scope's otel.scope.name / otel.scope.version, as metricSeries' labels and groupBy read them; other resource keys are under RESOURCE) " +
      '(at most `limit`: past that the `limit` on the most records, and `extensions.notes` says the list was cut; `prefix` narrows it) ' +
      '(a SPAN or LOG filter and attributeValues look a key up on the record, then on its resource). ' +
      'Read from the embedded store (what teleql received), also where another backend is the signal\'s read source; `extensions.notes` says so then.',
    args: {
      signal: t.arg({ type: AttributeSignalEnum, required: true }),
      prefix: t.arg.string(),
      from: t.arg({ type: 'Timestamp' }),
      to: t.arg({ type: 'Timestamp' }),
      limit: t.arg.int({ defaultValue: 1000, description: '1–1000.' }),
    },
    resolve: (_, args, ctx) => attributeKeys(ctx, args),
  }),
  attributeValues: t.stringList({
    nullable: true,
    description:
      'Values of one attribute key, as the text filters compare against, most frequent first, at most `limit` (`extensions.notes` says when there were more); values longer than 1,000 characters (prompts, stack traces) are not listed. ' +
      "For SPAN and LOG, a record's value, else its resource's, as a filter sees it. From the embedded store, as attributeKeys.",
    args: {
      signal: t.arg({ type: AttributeSignalEnum, required: true }),
      key: t.arg.string({ required: true }),
      from: t.arg({ type: 'Timestamp' }),
      to: t.arg({ type: 'Timestamp' }),
      limit: t.arg.int({ defaultValue: 100, description: '1–1000.' }),
    },
    resolve: (_, args, ctx) => attributeValues(ctx, args),
  }),
}));
