export { Auth, type AuthOptions, type Principal } from "./auth.js";
export { createConsoleLink } from "./console-link.js";
export { registerAuth } from "./routes.js";
