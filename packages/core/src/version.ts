/** The version of the kernel plugins declare compatibility with (`kernel: '^0.1.0'`). */
export const KERNEL_VERSION = '0.1.0';
