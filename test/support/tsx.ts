// How a test starts a child process over the TypeScript source: `node ...TSX_IMPORT file.ts`.
import { tmpdir } from "node:os";

const loader = new URL("./tsx-loader.mjs", import.meta.url);
loader.searchParams.set("tmpdir", tmpdir());

/** node's arguments that load tsx, sharing this process's compile cache (tsx-loader.mjs). */
export const TSX_IMPORT = ["--import", loader.href];
