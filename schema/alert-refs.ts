// Object refs and enums of the alerting types, in one file so the alert type files can point at
// each other (Alert.rule ↔ AlertRule.alerts) without importing each other.
import type { AlertEvidence, AlertInstance, AlertRule, AlertTransition, ExceptionGroup, Matcher, Silence, TraceExemplar } from '../src/alerting/types.ts';
import { ALERT_STATES, COMPARATORS, RULE_KINDS } from '../src/alerting/types.ts';
import type { AlertEventModel } from '../resolvers/alerts.ts';
import { builder } from './builder.ts';

export const AlertRuleRef = builder.objectRef<AlertRule>('AlertRule');
export const AlertRef = builder.objectRef<AlertInstance>('Alert');
export const AlertEvidenceRef = builder.objectRef<AlertEvidence>('AlertEvidence');
export const AlertExemplarRef = builder.objectRef<TraceExemplar>('AlertExemplar');
export const AlertExceptionGroupRef = builder.objectRef<ExceptionGroup>('AlertExceptionGroup');
export const AlertTransitionRef = builder.objectRef<AlertTransition>('AlertTransition');
export const AlertEventRef = builder.objectRef<AlertEventModel>('AlertEvent');
export const SilenceRef = builder.objectRef<Silence>('Silence');
export const SilenceMatcherRef = builder.objectRef<Matcher>('SilenceMatcher');

export const AlertRuleKindEnum = builder.enumType('AlertRuleKind', {
  description:
    'PROMQL: a PromQL expression (on Prometheus when alerting.prometheusUrl is set, else the embedded subset). ' +
    'SPAN_ERROR_RATE: error spans / all spans in the window. SPAN_LATENCY_QUANTILE: span duration quantile in ms. ' +
    'LOG_COUNT: log records matching the filter. NO_DATA: records of a signal in the window (fires on 0 by default).',
  values: RULE_KINDS,
});
export const AlertComparatorEnum = builder.enumType('AlertComparator', { values: COMPARATORS });
export const AlertStateEnum = builder.enumType('AlertState', { values: ALERT_STATES });
export const AlertSeriesDimensionEnum = builder.enumType('AlertSeriesDimension', { values: ['SERVICE', 'OPERATION'] as const });
export const AlertSignalEnum = builder.enumType('AlertSignal', { values: ['SPANS', 'LOGS', 'METRICS'] as const });
export const MatcherTypeEnum = builder.enumType('MatcherType', {
  description: 'Label matcher operators as in Alertmanager: =, !=, =~, !~ (regexes match the whole value).',
  values: ['EQUAL', 'NOT_EQUAL', 'REGEX', 'NOT_REGEX'] as const,
});

export const MatcherInputRef = builder.inputType('MatcherInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    value: t.string({ required: true }),
    type: t.field({ type: MatcherTypeEnum, required: true }),
  }),
});
