#!/usr/bin/env node
// Prints the sha256 of the native sources (native/*.cc, native/*.h, native/sources.json, binding.gyp).
// Both builds bake it into the addon (`sourceHash`), and test/native/prebuild.test.ts recomputes it, so a
// committed prebuild that no longer matches the sources fails the tests instead of shipping stale code.
import { sourceHash } from './source-files.mjs';

process.stdout.write(sourceHash());
