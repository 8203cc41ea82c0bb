// Rule templates: the two Prometheus template forms a rule's labels and annotations may use,
// `{{ $value }}` and `{{ $labels.name }}`. Anything else between `{{` and `}}` (`{{ .Labels.x }}`,
// pipes like `| humanize`, functions) is refused when a rule is created, updated or loaded, so a rule
// ported from a Prometheus rules file never pages with `{{ … }}` in a label or an annotation.
import { valueText } from './rules.ts';
import { AlertingError, type AlertRule } from './types.ts';

/** A form the gateway expands: `$value`, or `$labels.<label name>`, with spaces around it or not. */
const SUPPORTED = /^\s*\$(?:value|labels\.([a-zA-Z_][a-zA-Z0-9_]*))\s*$/;

interface Action {
  /** Where `{{` starts and where the text after `}}` starts. */
  start: number;
  end: number;
  /** What is between the delimiters; null when `{{` is never closed. */
  body: string | null;
}

function actions(template: string): Action[] {
  const out: Action[] = [];
  for (let at = template.indexOf('{{'); at !== -1; ) {
    const close = template.indexOf('}}', at + 2);
    if (close === -1) {
      out.push({ start: at, end: template.length, body: null });
      break;
    }
    out.push({ start: at, end: close + 2, body: template.slice(at + 2, close) });
    at = template.indexOf('{{', close + 2);
  }
  return out;
}

/** The first `{{ … }}` of the text that is not `{{ $value }}` or `{{ $labels.name }}` (or an unclosed `{{`), or null. */
export function unsupportedTemplate(template: string): string | null {
  for (const a of actions(template)) if (a.body === null || !SUPPORTED.test(a.body)) return template.slice(a.start, a.end);
  return null;
}

/**
 * Refuses a rule whose labels or annotations use a template form the gateway does not expand,
 * naming the rule, the field and the form; `where` says where the rule came from (`rule`, or
 * `rule "Name"` in the rules file).
 */
export function checkRuleTemplates(rule: Pick<AlertRule, 'name' | 'labels' | 'annotations'>, where: string): void {
  for (const field of ['labels', 'annotations'] as const) {
    for (const [name, text] of Object.entries(rule[field])) {
      const form = unsupportedTemplate(text);
      if (form === null) continue;
      throw new AlertingError(
        'BAD_RULE',
        `${where}.${field}.${name}: ${JSON.stringify(form)} in alert rule ${JSON.stringify(rule.name)} is a template form the gateway does not expand; ` +
          'only {{ $value }} and {{ $labels.<name> }} are (no .Labels, pipes such as | humanize, or functions)',
      );
    }
  }
}

/**
 * The text with `{{ $value }}` and `{{ $labels.name }}` expanded, as Prometheus expands a rule's
 * labels and annotations; the value as every receiver prints it (valueText: 6 significant digits,
 * ±Inf as `+Inf`, `-Inf`), a missing label as ''. Another form (only a rule stored before such forms
 * were refused can have one) is left as it is.
 */
export function expandTemplate(template: string, labels: Record<string, string>, value: number | null): string {
  let out = '';
  let from = 0;
  for (const a of actions(template)) {
    const m = a.body === null ? null : SUPPORTED.exec(a.body);
    if (!m) continue;
    const label = m[1];
    out += template.slice(from, a.start) + (label !== undefined ? (Object.hasOwn(labels, label) ? labels[label]! : '') : value === null ? '' : valueText(value));
    from = a.end;
  }
  return out + template.slice(from);
}
