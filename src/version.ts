// The product version comes from package.json; the build id is injected by the image build
// (bun build --define FULCRUM_BUILD_ID=...) and is "dev" when running from a checkout.
import pkg from "../package.json" with { type: "json" };

declare const FULCRUM_BUILD_ID: string | undefined;

export const VERSION: string = pkg.version;
export const BUILD_ID: string = typeof FULCRUM_BUILD_ID === "string" ? FULCRUM_BUILD_ID : "dev";
export const VERSION_LINE = `fulcrum ${VERSION} (build ${BUILD_ID})`;
