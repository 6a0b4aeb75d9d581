// The netlink codec in one import: message framing, attributes (writer, parser, schema) and errors.
export * from "./attrs.ts";
export * from "./constants.ts";
export * from "./errors.ts";
export * from "./message.ts";
