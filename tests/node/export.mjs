// Export COUNT HTTP server spans with the OpenTelemetry JavaScript SDK's OTLP/HTTP
// exporter (FORMAT=json or proto) to URL with the runtime key KEY; print the
// exporter's result and the span ids as one JSON line.
import { SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';

const { URL, KEY, FORMAT = 'json', COUNT = '5', SERVICE = 'node-svc', COMPRESSION = 'none', PAD = '0' } = process.env;

const memory = new InMemorySpanExporter();
const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': SERVICE }),
  spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
});
const tracer = provider.getTracer('tests.node', '1.0.0');
for (let i = 0; i < Number(COUNT); i++) {
  const span = tracer.startSpan('POST /api/orders', { kind: SpanKind.SERVER });
  span.setAttributes({
    'http.request.method': 'POST', 'http.route': '/api/orders', 'url.path': `/api/orders/${i}`,
    'http.response.status_code': 201, 'client.address': '192.0.2.44', 'user_agent.original': 'node-test/1.0',
    padding: 'p'.repeat(Number(PAD)),
  });
  span.end();
}
await provider.forceFlush();
const spans = memory.getFinishedSpans();

const Exporter = FORMAT === 'proto' ? ProtoExporter : JsonExporter;
const exporter = new Exporter({ url: URL, headers: { 'x-api-key': KEY }, compression: COMPRESSION, timeoutMillis: 10000 });
const result = await new Promise((resolve) => exporter.export(spans, resolve));
console.log(JSON.stringify({
  code: result.code,
  error: result.error ? String(result.error.message || result.error) : null,
  spanIds: spans.map((s) => s.spanContext().spanId),
}));
await exporter.shutdown();
