/** What every benchmark page shares: a log shown on the page and posted to the server that serves it. */

export function post(kind: string, body: unknown) {
  return fetch(`/${kind}`, {method: 'POST', body: JSON.stringify(body)}).catch(() => undefined);
}

export function log(line: string) {
  document.getElementById('log')!.textContent += `${line}\n`;
  console.log(line);
  void post('log', line);
}

/** The unmasked WebGL2 renderer string (names SwiftShader when there is no GPU). */
export function webglRenderer(): string {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (gl == null) return 'no WebGL2 context';
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
}
