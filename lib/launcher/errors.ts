// LaunchError: a problem with how ringrun was invoked or with the job's setup (bad option, bad
// hostfile, unreachable store address). The CLI prints its message only (no stack) and exits 1;
// anything else that escapes is a bug and is printed with its stack.

export class LaunchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LaunchError';
  }
}
