import type { TreeReader } from '../backend/contract.js';

/**
 * A TreeReader over an in-memory file map (path → content), the shape the profile generator produces and
 * tests mutate. Directories are implied by the file paths; '' is the root.
 */
export class MapTreeReader implements TreeReader {
  private readonly files: Map<string, string>;
  private readonly dirs = new Map<string, Set<string>>();

  constructor(files: Map<string, string> | Record<string, string>) {
    this.files = files instanceof Map ? new Map(files) : new Map(Object.entries(files));
    for (const path of this.files.keys()) this.index(path);
  }

  private index(path: string): void {
    const parts = path.split('/');
    let dir = '';
    for (const part of parts) {
      let children = this.dirs.get(dir);
      if (!children) {
        children = new Set();
        this.dirs.set(dir, children);
      }
      children.add(part);
      dir = dir === '' ? part : `${dir}/${part}`;
    }
  }

  readFile(path: string): string | undefined {
    return this.files.get(normalize(path));
  }

  listDir(path: string): string[] | undefined {
    const children = this.dirs.get(normalize(path));
    return children ? [...children] : undefined;
  }

  /** Every file, for tests that rewrite a tree. */
  entries(): [string, string][] {
    return [...this.files.entries()];
  }
}

function normalize(path: string): string {
  // Most paths come clean; only strip slashes when there are some.
  return path.startsWith('/') || path.endsWith('/') ? path.replace(/^\/+|\/+$/g, '') : path;
}
