// The CEL of MutatingAdmissionPolicy mutations (upstream admission/plugin/policy/mutating): the
// admission variables, object construction (`Object{...}`, `JSONPatch{...}`, see
// objectconstruction.ts) and the JSONPatch library's `jsonpatch.escapeKey`.
import { CelCompileError, PRIVATE_FUNCTION, type Program, compile } from './environment.js';
import { ADMISSION_VARIABLES } from './matchconditions.js';
import { desugarObjectConstruction } from './objectconstruction.js';
import { JSONPATCH_LIBRARY_TYPE, JsonPatchLibrary } from './libraries/jsonpatch.js';

/** Mutation expressions see the admission variables and the JSONPatch library. */
export const MUTATION_VARIABLES = { ...ADMISSION_VARIABLES, jsonpatch: JSONPATCH_LIBRARY_TYPE };

/** The value `jsonpatch` is bound to when a mutation is evaluated. */
export const JSONPATCH_LIBRARY = new JsonPatchLibrary();

/**
 * Compiles a mutation's expression (ApplyConfiguration or JSONPatch) or a variable of a mutating
 * policy. Throws CelCompileError as compile() does.
 */
export function compileMutation(expression: string): Program {
  if (PRIVATE_FUNCTION.test(expression))
    throw new CelCompileError(expression, `compilation failed: ERROR: <input>:1:1: undeclared reference`);
  const program = compile(desugarObjectConstruction(expression), MUTATION_VARIABLES, { rewritten: true });
  // Report the expression as written, not as rewritten.
  return { ...program, expression, evaluate: program.evaluate.bind(program) };
}
