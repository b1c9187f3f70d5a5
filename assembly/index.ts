// The shared-memory core of ringbus. (Lands with the core issue; this entry keeps the build whole.)
export function layoutVersion(): u32 {
  return 1;
}
