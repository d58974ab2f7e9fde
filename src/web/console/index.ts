export { secretsInventory } from "./inventory.js";
export { registerConsole } from "./routes.js";
export type * from "./types.js";
