// Where each kind of debug-info node keeps its operands, per LLVM version
// (llvm/IR/DebugInfoMetadata.h). The one place that knows operand positions:
// code that reads operands (ffi/ and src/btf/) indexes them by these names.
// docs/ARCHITECTURE.md#ffi-and-ownership.

/** Operand positions of the node kinds the linker reads or rewrites. */
export interface MetadataLayout {
  /**
   * Every DIType (basic, derived, composite, subroutine, ...): file, scope,
   * name. Operands after the name belong to the type itself (its size and
   * offset since LLVM 21, then its base type, elements, ...).
   */
  readonly type: { readonly file: number; readonly scope: number; readonly name: number };
  /** DIDerivedType: pointers, typedefs, members, qualifiers. */
  readonly derived: { readonly baseType: number };
  /** DICompositeType: structs, unions, enums, arrays, variant parts. */
  readonly composite: { readonly baseType: number; readonly elements: number };
  readonly subprogram: {
    readonly file: number;
    readonly scope: number;
    readonly name: number;
    readonly linkageName: number;
    readonly type: number;
    readonly unit: number;
    readonly declaration: number;
    readonly retainedNodes: number;
  };
  /** DIGlobalVariable and DILocalVariable. */
  readonly variable: {
    readonly scope: number;
    readonly name: number;
    readonly file: number;
    readonly type: number;
  };
  readonly enumerator: { readonly name: number };
  /** DINamespace (a Rust module). */
  readonly namespace: { readonly scope: number; readonly name: number };
  readonly globalExpression: { readonly variable: number; readonly expression: number };
  /** DILocation: inlinedAt only when the location has two operands. */
  readonly location: { readonly scope: number; readonly inlinedAt: number };
  /** DILexicalBlock and DILexicalBlockFile. */
  readonly lexicalBlock: { readonly file: number; readonly scope: number };
  readonly file: { readonly filename: number; readonly directory: number };
  /**
   * DICompileUnit: its file, then the lists DwarfDebug looks at to decide
   * whether to emit a unit with no code.
   */
  readonly compileUnit: {
    readonly file: number;
    readonly enumTypes: number;
    readonly retainedTypes: number;
    readonly globalVariables: number;
    readonly importedEntities: number;
    readonly macros: number;
  };
}

const SUBPROGRAM = {
  file: 0,
  scope: 1,
  name: 2,
  linkageName: 3,
  type: 4,
  unit: 5,
  declaration: 6,
  retainedNodes: 7,
} as const;

const COMMON = {
  type: { file: 0, scope: 1, name: 2 },
  subprogram: SUBPROGRAM,
  variable: { scope: 0, name: 1, file: 2, type: 3 },
  enumerator: { name: 0 },
  namespace: { scope: 1, name: 2 },
  globalExpression: { variable: 0, expression: 1 },
  location: { scope: 0, inlinedAt: 1 },
  lexicalBlock: { file: 0, scope: 1 },
  file: { filename: 0, directory: 1 },
  compileUnit: {
    file: 0,
    enumTypes: 4,
    retainedTypes: 5,
    globalVariables: 6,
    importedEntities: 7,
    macros: 8,
  },
} as const;

/** Up to LLVM 20 a type's own operands start right after its name. */
const LAYOUT_19: MetadataLayout = Object.freeze({
  ...COMMON,
  derived: { baseType: 3 },
  composite: { baseType: 3, elements: 4 },
});

/** LLVM 21 made a type's size and offset operands 3 and 4, which moved the rest by two. */
const LAYOUT_21: MetadataLayout = Object.freeze({
  ...COMMON,
  derived: { baseType: 5 },
  composite: { baseType: 5, elements: 6 },
});

/** The operand positions of LLVM `major` (19 or newer). */
export function metadataLayout(major: number): MetadataLayout {
  return major >= 21 ? LAYOUT_21 : LAYOUT_19;
}
