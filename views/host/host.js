// A minimal MCP Apps host for the browser tests, built on the official host-side bridge (app-bridge).
// It connects to the scholar-catalog server (Streamable HTTP, same origin), calls one tool, loads the
// tool's ui:// resource into a sandboxed iframe under the host's default CSP, and passes the result in.
// The view's own tool calls go back to the server through the bridge.
//   host.html?tool=NAME&args=JSON&theme=light|dark&width=PX
// Progress and errors are published on window.hostState for the test.
import { AppBridge, PostMessageTransport, RESOURCE_MIME_TYPE, getToolUiResourceUri } from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

// The CSP the MCP Apps spec tells hosts to apply when a resource declares no domains.
const DEFAULT_CSP =
  "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; media-src 'self' data:; connect-src 'none'";

const state = (window.hostState = { stage: "starting", proxiedCalls: [], error: null });
const params = new URLSearchParams(location.search);
const theme = params.get("theme") === "dark" ? "dark" : "light";
const width = Number(params.get("width") || 640);

function withCsp(html) {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${DEFAULT_CSP}">`;
  return html.replace(/<head>/i, `<head>${meta}`);
}

async function main() {
  document.documentElement.style.background = theme === "dark" ? "#0f1114" : "#eceff3";
  document.body.style.margin = "0";
  document.body.style.padding = "16px";
  const client = new Client(
    { name: "scholar-catalog-test-host", version: "1.0.0" },
    { capabilities: { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: [RESOURCE_MIME_TYPE] } } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", location.href)));
  state.stage = "connected";
  const { tools } = await client.listTools();
  const tool = tools.find((t) => t.name === params.get("tool"));
  if (!tool) throw new Error(`no tool ${params.get("tool")}`);
  const uri = getToolUiResourceUri(tool);
  if (!uri) throw new Error(`${tool.name} has no ui:// resource`);
  const resource = await client.readResource({ uri });
  const content = resource.contents[0];
  if (content.mimeType !== RESOURCE_MIME_TYPE) throw new Error(`${uri} is ${content.mimeType}`);
  state.resourceUri = uri;

  const iframe = document.createElement("iframe");
  iframe.setAttribute("sandbox", "allow-scripts");
  iframe.setAttribute("title", tool.name);
  Object.assign(iframe.style, {
    width: `${width}px`, height: "200px", border: "1px solid #8884", borderRadius: "10px", display: "block",
    background: theme === "dark" ? "#171a1f" : "#fff", colorScheme: theme,
  });
  iframe.srcdoc = withCsp(content.text);
  document.getElementById("root").append(iframe);

  const bridge = new AppBridge(
    client,
    { name: "scholar-catalog-test-host", version: "1.0.0" },
    { openLinks: {}, serverTools: {}, serverResources: {}, logging: {} },
    {
      hostContext: {
        theme,
        platform: "web",
        displayMode: "inline",
        availableDisplayModes: ["inline"],
        containerDimensions: { width, maxHeight: 4000 },
        toolInfo: { tool },
      },
    },
  );
  bridge.addEventListener("sizechange", ({ height }) => {
    if (height) iframe.style.height = `${Math.ceil(height) + 2}px`;
  });
  const initialized = new Promise((resolve) => bridge.addEventListener("initialized", resolve));
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  const forward = bridge.oncalltool; // connect() installed forwarding to the server: count what passes
  bridge.oncalltool = async (request, extra) => {
    state.proxiedCalls.push(request.name);
    return forward(request, extra);
  };
  await initialized;
  state.stage = "initialized";
  const args = JSON.parse(params.get("args") || "{}");
  await bridge.sendToolInput({ arguments: args });
  const result = await client.callTool({ name: tool.name, arguments: args });
  state.result = result.structuredContent;
  await bridge.sendToolResult(result);
  state.stage = "result-sent";
}

main().catch((error) => {
  state.error = String(error?.stack || error);
  state.stage = "failed";
  document.getElementById("root").append(Object.assign(document.createElement("pre"), { textContent: state.error }));
});
