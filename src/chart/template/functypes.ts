// Template functions as the executor calls them: a JS function plus the Go parameter types that
// Go's reflect-based call would check (so arguments fail with Go's "wrong type for value" errors).

export type ParamType = 'any' | 'string' | 'int' | 'float64' | 'bool' | 'list' | 'map';

export interface FuncDef {
  fn: (...args: unknown[]) => unknown;
  /** Fixed parameters; omitted means "any number of interface{} arguments". */
  params?: ParamType[];
  variadic?: ParamType;
}

export type FuncMap = Map<string, FuncDef>;
