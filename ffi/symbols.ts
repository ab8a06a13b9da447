// Every LLVM-C function the linker calls, declared once. Both FFI back ends
// (ffi/backend_deno.ts, ffi/backend_bun.ts) build their dlopen tables from this.
//
// Types are runtime-neutral:
//   ptr  an opaque LLVM handle or C pointer (null allowed)
//   buf  a Uint8Array passed by address: NUL-terminated strings, out-parameters
//   fn   a callback pointer made by the back end
//   u8 C++ bool; i32/u32 C int/unsigned; u64 size_t (passed and returned as number)
//
// `since`/`until` give the LLVM major versions a symbol exists in (inclusive);
// only symbols valid for the loaded version are looked up.

export type NativeType = "void" | "u8" | "i32" | "u32" | "u64" | "ptr" | "buf" | "fn";

export interface SymbolDef {
  readonly parameters: readonly NativeType[];
  readonly result: NativeType;
  readonly since?: number;
  readonly until?: number;
  /** Not every build exports it (C++ symbols); absent ones are left undefined. */
  readonly optional?: boolean;
}

export const LLVM_SYMBOLS = {
  // --- Version, messages, command line, errors
  LLVMGetVersion: { parameters: ["buf", "buf", "buf"], result: "void" },
  LLVMDisposeMessage: { parameters: ["ptr"], result: "void" },
  LLVMParseCommandLineOptions: { parameters: ["i32", "buf", "buf"], result: "void" },
  LLVMInstallFatalErrorHandler: { parameters: ["fn"], result: "void" },
  // The C API's LLVMParseCommandLineOptions swallows errors (an unknown option is
  // silently ignored). The C++ function it wraps returns whether parsing worked,
  // so unknown --llvm-args can be reported. Its signature changed in a later
  // LLVM (a vfs::FileSystem* was added): whichever one the library exports is used; StringRef travels as (data, length).
  // nulls() is the discarding raw_ostream the C API passes too.
  _ZN4llvm5nullsEv: { parameters: [], result: "ptr", optional: true },
  _ZN4llvm2cl25ResetAllOptionOccurrencesEv: { parameters: [], result: "void", optional: true },
  _ZN4llvm2cl23ParseCommandLineOptionsEiPKPKcNS_9StringRefEPNS_11raw_ostreamES2_b: {
    parameters: ["i32", "buf", "buf", "u64", "ptr", "ptr", "i32"],
    result: "u8",
    optional: true,
  },
  _ZN4llvm2cl23ParseCommandLineOptionsEiPKPKcNS_9StringRefEPNS_11raw_ostreamEPNS_3vfs10FileSystemES2_b:
    {
      parameters: ["i32", "buf", "buf", "u64", "ptr", "ptr", "ptr", "i32"],
      result: "u8",
      optional: true,
    },
  LLVMGetErrorMessage: { parameters: ["ptr"], result: "ptr" },
  LLVMDisposeErrorMessage: { parameters: ["ptr"], result: "void" },

  // --- Context and diagnostics
  LLVMContextCreate: { parameters: [], result: "ptr" },
  LLVMContextDispose: { parameters: ["ptr"], result: "void" },
  LLVMContextSetDiagnosticHandler: { parameters: ["ptr", "fn", "ptr"], result: "void" },
  LLVMGetDiagInfoDescription: { parameters: ["ptr"], result: "ptr" },
  LLVMGetDiagInfoSeverity: { parameters: ["ptr"], result: "i32" },
  LLVMGetEnumAttributeKindForName: { parameters: ["buf", "u64"], result: "u32" },

  // --- Memory buffers
  LLVMCreateMemoryBufferWithMemoryRange: {
    parameters: ["ptr", "u64", "buf", "i32"],
    result: "ptr",
  },
  LLVMDisposeMemoryBuffer: { parameters: ["ptr"], result: "void" },
  LLVMGetBufferStart: { parameters: ["ptr"], result: "ptr" },
  LLVMGetBufferSize: { parameters: ["ptr"], result: "u64" },

  // --- Reading modules
  LLVMParseBitcodeInContext2: { parameters: ["ptr", "ptr", "buf"], result: "i32" },
  // Lazy: function bodies are read when first needed. Owns the buffer on success only.
  LLVMGetBitcodeModuleInContext2: { parameters: ["ptr", "ptr", "buf"], result: "i32" },
  // Takes ownership of the memory buffer.
  LLVMParseIRInContext: { parameters: ["ptr", "ptr", "buf", "buf"], result: "i32", until: 21 },
  // LLVM 22: the caller keeps ownership of the memory buffer.
  LLVMParseIRInContext2: { parameters: ["ptr", "ptr", "buf", "buf"], result: "i32", since: 22 },

  // --- Modules
  LLVMModuleCreateWithNameInContext: { parameters: ["buf", "ptr"], result: "ptr" },
  LLVMDisposeModule: { parameters: ["ptr"], result: "void" },
  LLVMLinkModules2: { parameters: ["ptr", "ptr"], result: "i32" },
  LLVMGetTarget: { parameters: ["ptr"], result: "ptr" },
  LLVMSetTarget: { parameters: ["ptr", "buf"], result: "void" },
  LLVMSetModuleDataLayout: { parameters: ["ptr", "ptr"], result: "void" },
  LLVMGetModuleInlineAsm: { parameters: ["ptr", "buf"], result: "ptr" },
  LLVMSetModuleInlineAsm2: { parameters: ["ptr", "buf", "u64"], result: "void" },
  LLVMPrintModuleToString: { parameters: ["ptr"], result: "ptr" },
  LLVMWriteBitcodeToMemoryBuffer: { parameters: ["ptr"], result: "ptr" },
  LLVMStripModuleDebugInfo: { parameters: ["ptr"], result: "i32" },
  LLVMVerifyModule: { parameters: ["ptr", "i32", "buf"], result: "i32" },

  // --- Globals, functions, aliases
  LLVMGetFirstFunction: { parameters: ["ptr"], result: "ptr" },
  LLVMGetNextFunction: { parameters: ["ptr"], result: "ptr" },
  LLVMGetFirstGlobal: { parameters: ["ptr"], result: "ptr" },
  LLVMGetNextGlobal: { parameters: ["ptr"], result: "ptr" },
  LLVMGetFirstGlobalAlias: { parameters: ["ptr"], result: "ptr" },
  LLVMGetNextGlobalAlias: { parameters: ["ptr"], result: "ptr" },
  LLVMGetValueName2: { parameters: ["ptr", "buf"], result: "ptr" },
  LLVMSetValueName2: { parameters: ["ptr", "buf", "u64"], result: "void" },
  LLVMIsDeclaration: { parameters: ["ptr"], result: "i32" },
  LLVMGetLinkage: { parameters: ["ptr"], result: "i32" },
  LLVMSetLinkage: { parameters: ["ptr", "i32"], result: "void" },
  LLVMSetVisibility: { parameters: ["ptr", "i32"], result: "void" },
  LLVMGetSection: { parameters: ["ptr"], result: "ptr" },
  LLVMRemoveEnumAttributeAtIndex: { parameters: ["ptr", "u32", "u32"], result: "void" },

  // --- Instructions (call sites)
  LLVMGetFirstBasicBlock: { parameters: ["ptr"], result: "ptr" },
  LLVMGetNextBasicBlock: { parameters: ["ptr"], result: "ptr" },
  LLVMGetFirstInstruction: { parameters: ["ptr"], result: "ptr" },
  LLVMGetNextInstruction: { parameters: ["ptr"], result: "ptr" },
  LLVMIsACallInst: { parameters: ["ptr"], result: "ptr" },
  LLVMRemoveCallSiteEnumAttribute: { parameters: ["ptr", "u32", "u32"], result: "void" },

  // --- BPF target
  LLVMInitializeBPFTargetInfo: { parameters: [], result: "void" },
  LLVMInitializeBPFTarget: { parameters: [], result: "void" },
  LLVMInitializeBPFTargetMC: { parameters: [], result: "void" },
  LLVMInitializeBPFAsmPrinter: { parameters: [], result: "void" },
  LLVMInitializeBPFAsmParser: { parameters: [], result: "void" },
  LLVMInitializeBPFDisassembler: { parameters: [], result: "void" },
  LLVMGetTargetFromTriple: { parameters: ["buf", "buf", "buf"], result: "i32" },
  LLVMCreateTargetMachine: {
    parameters: ["ptr", "buf", "buf", "buf", "i32", "i32", "i32"],
    result: "ptr",
  },
  LLVMDisposeTargetMachine: { parameters: ["ptr"], result: "void" },
  LLVMCreateTargetDataLayout: { parameters: ["ptr"], result: "ptr" },
  LLVMDisposeTargetData: { parameters: ["ptr"], result: "void" },
  LLVMTargetMachineEmitToMemoryBuffer: {
    parameters: ["ptr", "ptr", "i32", "buf", "buf"],
    result: "i32",
  },

  // --- New pass manager
  LLVMCreatePassBuilderOptions: { parameters: [], result: "ptr" },
  LLVMDisposePassBuilderOptions: { parameters: ["ptr"], result: "void" },
  LLVMRunPasses: { parameters: ["ptr", "buf", "ptr", "ptr"], result: "ptr" },

  // --- Metadata and debug info (BTF sanitizer)
  // Metadata handles (LLVMMetadataRef, and the LLVMValueRef of a MetadataAsValue)
  // are declared "u64": the sanitizer keys hundreds of thousands of nodes by
  // address, and a plain number is what both runtimes pass and return fastest.
  // A pointer and a 64-bit integer travel in the same register on every 64-bit
  // ABI we run on (x86-64 SysV, AArch64 AAPCS64). Only ffi/metadata.ts and
  // ffi/metadata_text.ts use them.
  LLVMPrintValueToString: { parameters: ["u64"], result: "ptr" },
  LLVMMetadataAsValue: { parameters: ["ptr", "u64"], result: "u64" },
  LLVMValueAsMetadata: { parameters: ["u64"], result: "u64" },
  LLVMGetMetadataKind: { parameters: ["u64"], result: "u32" },
  LLVMIsAMDNode: { parameters: ["u64"], result: "u64" },
  LLVMGetMDNodeNumOperands: { parameters: ["u64"], result: "u32" },
  LLVMGetMDNodeOperands: { parameters: ["u64", "buf"], result: "void" },
  LLVMReplaceMDNodeOperandWith: { parameters: ["u64", "u32", "u64"], result: "void" },
  LLVMGetMDString: { parameters: ["u64", "buf"], result: "ptr" },
  LLVMMDStringInContext2: { parameters: ["ptr", "buf", "u64"], result: "u64" },
  LLVMMDNodeInContext2: { parameters: ["ptr", "buf", "u64"], result: "u64" },
  // Operands of a named metadata list (as MetadataAsValue values).
  LLVMGetNamedMetadataNumOperands: { parameters: ["ptr", "buf"], result: "u32" },
  LLVMGetNamedMetadataOperands: { parameters: ["ptr", "buf", "buf"], result: "void" },
  // Attachments of a global object or instruction: an LLVMValueMetadataEntry array.
  LLVMGlobalCopyAllMetadata: { parameters: ["ptr", "buf"], result: "u64" },
  LLVMInstructionGetAllMetadataOtherThanDebugLoc: { parameters: ["ptr", "buf"], result: "u64" },
  LLVMValueMetadataEntriesGetMetadata: { parameters: ["u64", "u32"], result: "u64" },
  LLVMDisposeValueMetadataEntries: { parameters: ["u64"], result: "void" },
  LLVMInstructionGetDebugLoc: { parameters: ["ptr"], result: "u64" },
  LLVMGetNumOperands: { parameters: ["ptr"], result: "i32" },
  LLVMGetOperand: { parameters: ["ptr", "u32"], result: "u64" },
  LLVMGetSubprogram: { parameters: ["ptr"], result: "u64" },
  LLVMSetSubprogram: { parameters: ["ptr", "u64"], result: "void" },
  LLVMGetDINodeTag: { parameters: ["u64"], result: "u32" },
  LLVMDILocationGetScope: { parameters: ["u64"], result: "u64" },
  LLVMDILocationGetInlinedAt: { parameters: ["u64"], result: "u64" },
  LLVMDITypeGetName: { parameters: ["u64", "buf"], result: "ptr" },
  LLVMDITypeGetOffsetInBits: { parameters: ["u64"], result: "u64" },
  LLVMDITypeGetFlags: { parameters: ["u64"], result: "u32" },
  LLVMDISubprogramGetLine: { parameters: ["u64"], result: "u32" },
  LLVMCreateDIBuilder: { parameters: ["ptr"], result: "ptr" },
  LLVMDisposeDIBuilder: { parameters: ["ptr"], result: "void" },
  LLVMDIBuilderFinalize: { parameters: ["ptr"], result: "void" },
  LLVMDIBuilderFinalizeSubprogram: { parameters: ["ptr", "u64"], result: "void" },
  // (builder, name, nameLen, sizeInBits, encoding, flags)
  LLVMDIBuilderCreateBasicType: { parameters: ["ptr", "buf", "u64", "u64", "u32", "i32"], result: "u64" },
  // (builder, scope, name, nameLen, linkageName, linkageNameLen, file, line, type,
  //  isLocalToUnit, isDefinition, scopeLine, flags, isOptimized)
  LLVMDIBuilderCreateFunction: {
    parameters: ["ptr", "u64", "buf", "u64", "buf", "u64", "u64", "u32", "u64", "i32", "i32", "u32", "i32", "i32"],
    result: "u64",
  },
  // Debug records (the non-instruction dbg.value/dbg.declare of LLVM 19+) can be
  // walked since 20 but only read since 22; older versions convert the module to
  // debug intrinsics while the sanitizer reads it.
  LLVMIsNewDbgInfoFormat: { parameters: ["ptr"], result: "i32" },
  LLVMSetIsNewDbgInfoFormat: { parameters: ["ptr", "i32"], result: "void" },
  LLVMGetFirstDbgRecord: { parameters: ["ptr"], result: "u64", since: 20 },
  LLVMGetNextDbgRecord: { parameters: ["u64"], result: "u64", since: 20 },
  LLVMDbgRecordGetDebugLoc: { parameters: ["u64"], result: "u64", since: 22 },
  LLVMDbgRecordGetKind: { parameters: ["u64"], result: "u32", since: 22 },
  LLVMDbgVariableRecordGetVariable: { parameters: ["u64"], result: "u64", since: 22 },

  // --- Use lists (--why-live)
  // Value handles are "u64" here too (see the metadata section): the walk keys
  // values by address. Only ffi/uses.ts uses these. Globals are reached from the
  // module end (Last/Previous), whose "ptr" Get*First/Next twins stay as they are.
  LLVMGetLastFunction: { parameters: ["ptr"], result: "u64" },
  LLVMGetPreviousFunction: { parameters: ["u64"], result: "u64" },
  LLVMGetLastGlobal: { parameters: ["ptr"], result: "u64" },
  LLVMGetPreviousGlobal: { parameters: ["u64"], result: "u64" },
  LLVMGetLastGlobalAlias: { parameters: ["ptr"], result: "u64" },
  LLVMGetPreviousGlobalAlias: { parameters: ["u64"], result: "u64" },
  LLVMGetValueName: { parameters: ["u64"], result: "ptr" },
  LLVMCountBasicBlocks: { parameters: ["u64"], result: "u32" },
  LLVMGetInitializer: { parameters: ["u64"], result: "u64" },
  LLVMGetFirstUse: { parameters: ["u64"], result: "u64" },
  LLVMGetNextUse: { parameters: ["u64"], result: "u64" },
  LLVMGetUser: { parameters: ["u64"], result: "u64" },
  LLVMIsAInstruction: { parameters: ["u64"], result: "u64" },
  LLVMGetInstructionParent: { parameters: ["u64"], result: "u64" },
  LLVMGetBasicBlockParent: { parameters: ["u64"], result: "u64" },
  LLVMIsAGlobalValue: { parameters: ["u64"], result: "u64" },
  LLVMIsAConstant: { parameters: ["u64"], result: "u64" },
} as const satisfies Record<string, SymbolDef>;

export type LlvmSymbolName = keyof typeof LLVM_SYMBOLS;

/** The subset of the table that exists in LLVM `major`. */
export function symbolsForVersion(major: number): Partial<Record<LlvmSymbolName, SymbolDef>> {
  const out: Partial<Record<LlvmSymbolName, SymbolDef>> = {};
  for (const [name, def] of Object.entries(LLVM_SYMBOLS) as [LlvmSymbolName, SymbolDef][]) {
    if (def.since !== undefined && major < def.since) continue;
    if (def.until !== undefined && major > def.until) continue;
    out[name] = def;
  }
  return out;
}
