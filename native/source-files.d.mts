export declare const packageRoot: string;
export declare function nativeSourceFiles(root?: string): string[];
export declare function sourceHash(root?: string): string;
