// chai 6 ships no type declarations and @types/chai is not installed in this repo yet: this shim
// types `expect` loosely so the tests compile. Delete it once @types/chai is a root devDependency.
declare module 'chai' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  export function expect(actual: unknown, message?: string): any;
}
