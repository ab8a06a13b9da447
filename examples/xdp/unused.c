// Part of the library, never referenced: the linker drops it.
int unused_helper(int x) { return x * 3; }
