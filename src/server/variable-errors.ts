// graphql-js reports a variable that does not fit its type (`Variable "$n" got invalid value "x";
// Int cannot represent non-integer value: "x"`, `Variable "$id" of required type "ID!" was not
// provided.`) without extensions.code. This plugin gives those errors GW_BAD_ARGUMENT, so every
// error a client gets for its own input carries a code. Errors that have one already are left as
// they are: Timestamp's and Duration's parseValue throw GatewayErrors, whose code graphql-js keeps.
// The HTTP status (400) is Yoga's and does not change.
import { GraphQLError, Kind, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';

// What graphql-js adds, with no location, after 50 variable errors (fuzz QA found it without a code).
const TOO_MANY_VARIABLE_ERRORS = 'Too many errors processing variables';

/** An error graphql-js raised while coercing the variables: located at the variable's definition (or its error-limit note), with no code. */
function uncodedVariableError(err: GraphQLError): boolean {
  if (err.extensions?.['code'] !== undefined || err.path !== undefined) return false;
  return err.nodes?.[0]?.kind === Kind.VARIABLE_DEFINITION || (err.nodes === undefined && err.message.startsWith(TOO_MANY_VARIABLE_ERRORS));
}

function withCode(err: GraphQLError): GraphQLError {
  return new GraphQLError(err.message, {
    nodes: err.nodes,
    source: err.source,
    positions: err.positions,
    originalError: err.originalError,
    extensions: { ...err.extensions, code: 'GW_BAD_ARGUMENT' },
  });
}

/** The result with its variable errors coded; undefined when it has none (or is a stream). */
function coded(result: unknown): ExecutionResult | undefined {
  if (typeof result !== 'object' || result === null || Symbol.asyncIterator in result) return undefined;
  const { errors } = result as ExecutionResult;
  if (!errors?.some(uncodedVariableError)) return undefined;
  return { ...(result as ExecutionResult), errors: errors.map((e) => (uncodedVariableError(e) ? withCode(e) : e)) };
}

export const variableErrorCodePlugin: Plugin = {
  onExecute: () => ({
    onExecuteDone: ({ result, setResult }) => {
      const fixed = coded(result);
      if (fixed) setResult(fixed);
    },
  }),
  onSubscribe: () => ({
    onSubscribeResult: ({ result, setResult }) => {
      const fixed = coded(result);
      if (fixed) setResult(fixed);
    },
  }),
};
