/** Whether dist/ is newer than every source file (see dist-fresh.js). */
export function distIsFresh(): boolean;
