// Whether an index template pattern or the log store's search target covers a data stream: the
// start-up checks between the Elasticsearch exporter's dataStream, its templatePattern and
// storage.elasticsearch.index (QA round 27, D3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexExpressionCovers, indexPatternMatches } from '../../../src/stores/elasticsearch/index.ts';

test('a template pattern matches with * only; every other character is literal', () => {
  assert.equal(indexPatternMatches('logs-teleql-*', 'logs-teleql-default'), true);
  assert.equal(indexPatternMatches('logs-teleql-*', 'logs-myapp-prod'), false);
  assert.equal(indexPatternMatches('logs-*-*', 'logs-myapp-prod'), true);
  assert.equal(indexPatternMatches('logs.teleql', 'logsXteleql'), false, 'a dot is a dot');
  assert.equal(indexPatternMatches('logs-myapp-prod', 'logs-myapp-prod'), true);
  assert.equal(indexPatternMatches('*', 'anything'), true);
});

test('a search target covers a stream by name or pattern, in a comma list, minus exclusions; remote and date math cannot be told', () => {
  assert.equal(indexExpressionCovers('logs-teleql-*', 'logs-myapp-prod'), false);
  assert.equal(indexExpressionCovers('logs-*', 'logs-myapp-prod'), true, 'a pattern over several streams');
  assert.equal(indexExpressionCovers('logs-teleql-*,logs-myapp-prod', 'logs-myapp-prod'), true);
  assert.equal(indexExpressionCovers('logs-*, -logs-myapp-*', 'logs-myapp-prod'), false, 'excluded after the pattern that included it');
  assert.equal(indexExpressionCovers('_all', 'logs-myapp-prod'), true);
  assert.equal(indexExpressionCovers('other:logs-*', 'logs-myapp-prod'), undefined, 'a remote cluster');
  assert.equal(indexExpressionCovers('<logs-{now/d}>', 'logs-myapp-prod'), undefined, 'date math');
});
