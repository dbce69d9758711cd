// A plain HTTP proxy in front of the loopback registry that records every
// request, so a benchmark can tell how many manifest and blob requests a
// pull made. Both tools are sent through it, so its cost falls on both.

/** One request the proxy forwarded. */
export interface ProxiedRequest {
  method: string
  path: string
  status: number
}

/** A running counting proxy. */
export interface CountingProxy {
  /** Host and port to put in references instead of the registry's. */
  host: string
  /** Requests since start or the last clear(), in arrival order. */
  requests: () => ProxiedRequest[]
  clear: () => void
  stop: () => Promise<void>
}

/**
 * Listens on 127.0.0.1 (a free port) and forwards every request, headers and
 * body untouched, to `registryHost` over HTTP. Resolves once listening.
 */
export async function startCountingProxy(registryHost: string): Promise<CountingProxy> {
  const http = await import('node:http')

  const [targetHost, targetPort] = registryHost.split(':')
  let requests: ProxiedRequest[] = []

  const server = http.createServer((incoming, outgoing) => {
    const record: ProxiedRequest = {method: incoming.method ?? 'GET', path: incoming.url ?? '/', status: 0}
    requests.push(record)
    const upstream = http.request(
      {host: targetHost, port: Number(targetPort), method: incoming.method, path: incoming.url, headers: incoming.headers},
      (response) => {
        record.status = response.statusCode ?? 0
        outgoing.writeHead(response.statusCode ?? 502, response.headers)
        response.pipe(outgoing)
      },
    )
    upstream.on('error', (error) => {
      record.status = 502
      outgoing.destroy(error)
    })
    incoming.pipe(upstream)
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0

  return {
    host: `127.0.0.1:${port}`,
    requests: () => [...requests],
    clear: () => {
      requests = []
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Counts of manifest, blob and other requests in a list of requests. */
export interface RequestCounts {
  manifestGets: number
  manifestHeads: number
  blobRequests: number
  other: number
  total: number
}

/** Sorts requests by kind: /v2/NAME/manifests/..., /v2/NAME/blobs/..., the rest. */
export function countRequests(requests: ProxiedRequest[]): RequestCounts {
  const counts: RequestCounts = {manifestGets: 0, manifestHeads: 0, blobRequests: 0, other: 0, total: requests.length}
  for (const request of requests) {
    if (/\/manifests\//.test(request.path)) {
      if (request.method === 'HEAD') counts.manifestHeads++
      else counts.manifestGets++
    } else if (/\/blobs\//.test(request.path)) {
      counts.blobRequests++
    } else {
      counts.other++
    }
  }
  return counts
}
