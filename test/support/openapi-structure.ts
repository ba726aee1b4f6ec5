import { createRequire } from 'node:module';

/**
 * Checks an OpenAPI 3.1 document without the official schema (spec.openapis.org is not reachable
 * from the build, and no installed package ships it): the structure of the objects the hub's
 * document uses, written here from the 3.1 specification (required fields, allowed keys with
 * `x-` extensions, `in`/`type` enumerations, status code keys), every Schema Object against the
 * JSON Schema 2020-12 meta-schema, and the rules a schema cannot express (path templates declared
 * as required path parameters, security names defined, unique operation ids, local `$ref`s found).
 */

interface ValidateFunction {
  (data: unknown): boolean;
  errors?: unknown[] | null;
}
interface Ajv2020 {
  compile(schema: object): ValidateFunction;
  validateSchema(schema: object): boolean | Promise<unknown>;
  errors?: unknown[] | null;
  errorsText(errors?: unknown[] | null): string;
}

/** Fastify's own Ajv 8 (the top-level `ajv` is ESLint's Ajv 6, which has no 2020-12). */
function loadAjv2020(): Ajv2020 {
  const fromFastify = createRequire(require.resolve('@fastify/ajv-compiler'));
  const { Ajv2020: Ctor } = fromFastify('ajv/dist/2020') as { Ajv2020: new (options: object) => Ajv2020 };
  return new Ctor({ strict: false, allErrors: true });
}

const extensible = { '^x-': true };
const string = { type: 'string' };
const stringArray = { type: 'array', items: string };
const jsonSchema = { type: ['object', 'boolean'] };

const STRUCTURE = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['openapi', 'info'],
  anyOf: [{ required: ['paths'] }, { required: ['components'] }, { required: ['webhooks'] }],
  properties: {
    openapi: { type: 'string', pattern: '^3\\.1\\.\\d+(-.+)?$' },
    info: { $ref: '#/$defs/info' },
    jsonSchemaDialect: { type: 'string' },
    servers: { type: 'array', items: { $ref: '#/$defs/server' } },
    paths: { type: 'object', patternProperties: { '^/': { $ref: '#/$defs/pathItem' }, ...extensible }, additionalProperties: false },
    webhooks: { type: 'object', additionalProperties: { $ref: '#/$defs/pathItem' } },
    components: { $ref: '#/$defs/components' },
    security: { $ref: '#/$defs/security' },
    tags: { type: 'array', items: { $ref: '#/$defs/tag' } },
    externalDocs: { $ref: '#/$defs/externalDocs' },
  },
  patternProperties: extensible,
  additionalProperties: false,
  $defs: {
    info: {
      type: 'object',
      required: ['title', 'version'],
      properties: {
        title: string,
        summary: string,
        description: string,
        termsOfService: string,
        contact: { type: 'object' },
        license: { type: 'object', required: ['name'] },
        version: string,
      },
      patternProperties: extensible,
      additionalProperties: false,
    },
    server: { type: 'object', required: ['url'], properties: { url: string, description: string, variables: { type: 'object' } }, patternProperties: extensible, additionalProperties: false },
    tag: { type: 'object', required: ['name'], properties: { name: string, description: string, externalDocs: { $ref: '#/$defs/externalDocs' } }, patternProperties: extensible, additionalProperties: false },
    externalDocs: { type: 'object', required: ['url'], properties: { description: string, url: string }, patternProperties: extensible, additionalProperties: false },
    security: { type: 'array', items: { type: 'object', additionalProperties: stringArray } },
    components: {
      type: 'object',
      properties: {
        schemas: { type: 'object', additionalProperties: jsonSchema },
        responses: { type: 'object', additionalProperties: { $ref: '#/$defs/responseOrRef' } },
        parameters: { type: 'object', additionalProperties: { $ref: '#/$defs/parameterOrRef' } },
        requestBodies: { type: 'object', additionalProperties: { $ref: '#/$defs/requestBodyOrRef' } },
        headers: { type: 'object', additionalProperties: { $ref: '#/$defs/headerOrRef' } },
        securitySchemes: { type: 'object', additionalProperties: { $ref: '#/$defs/securityScheme' } },
        examples: { type: 'object' },
        links: { type: 'object' },
        callbacks: { type: 'object' },
        pathItems: { type: 'object', additionalProperties: { $ref: '#/$defs/pathItem' } },
      },
      patternProperties: extensible,
      additionalProperties: false,
    },
    securityScheme: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { enum: ['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'] },
        description: string,
        name: string,
        in: { enum: ['query', 'header', 'cookie'] },
        scheme: string,
        bearerFormat: string,
        flows: { type: 'object' },
        openIdConnectUrl: string,
      },
      allOf: [
        { if: { properties: { type: { const: 'http' } } }, then: { required: ['scheme'] } },
        { if: { properties: { type: { const: 'apiKey' } } }, then: { required: ['name', 'in'] } },
      ],
      patternProperties: extensible,
      additionalProperties: false,
    },
    pathItem: {
      type: 'object',
      properties: {
        $ref: string,
        summary: string,
        description: string,
        servers: { type: 'array', items: { $ref: '#/$defs/server' } },
        parameters: { type: 'array', items: { $ref: '#/$defs/parameterOrRef' } },
        get: { $ref: '#/$defs/operation' },
        put: { $ref: '#/$defs/operation' },
        post: { $ref: '#/$defs/operation' },
        delete: { $ref: '#/$defs/operation' },
        options: { $ref: '#/$defs/operation' },
        head: { $ref: '#/$defs/operation' },
        patch: { $ref: '#/$defs/operation' },
        trace: { $ref: '#/$defs/operation' },
      },
      patternProperties: extensible,
      additionalProperties: false,
    },
    operation: {
      type: 'object',
      properties: {
        tags: stringArray,
        summary: string,
        description: string,
        externalDocs: { $ref: '#/$defs/externalDocs' },
        operationId: string,
        parameters: { type: 'array', items: { $ref: '#/$defs/parameterOrRef' } },
        requestBody: { $ref: '#/$defs/requestBodyOrRef' },
        responses: {
          type: 'object',
          minProperties: 1,
          properties: { default: { $ref: '#/$defs/responseOrRef' } },
          patternProperties: { '^[1-5](?:[0-9]{2}|XX)$': { $ref: '#/$defs/responseOrRef' }, ...extensible },
          additionalProperties: false,
        },
        callbacks: { type: 'object' },
        deprecated: { type: 'boolean' },
        security: { $ref: '#/$defs/security' },
        servers: { type: 'array', items: { $ref: '#/$defs/server' } },
      },
      patternProperties: extensible,
      additionalProperties: false,
    },
    reference: { type: 'object', required: ['$ref'], properties: { $ref: string, summary: string, description: string }, additionalProperties: false },
    parameterOrRef: { if: { required: ['$ref'] }, then: { $ref: '#/$defs/reference' }, else: { $ref: '#/$defs/parameter' } },
    parameter: {
      type: 'object',
      required: ['name', 'in'],
      oneOf: [{ required: ['schema'] }, { required: ['content'] }],
      properties: {
        name: string,
        in: { enum: ['query', 'header', 'path', 'cookie'] },
        description: string,
        required: { type: 'boolean' },
        deprecated: { type: 'boolean' },
        allowEmptyValue: { type: 'boolean' },
        style: string,
        explode: { type: 'boolean' },
        allowReserved: { type: 'boolean' },
        schema: jsonSchema,
        content: { $ref: '#/$defs/content' },
        example: true,
        examples: { type: 'object' },
      },
      if: { properties: { in: { const: 'path' } } },
      then: { required: ['required'], properties: { required: { const: true } } },
      patternProperties: extensible,
      additionalProperties: false,
    },
    requestBodyOrRef: { if: { required: ['$ref'] }, then: { $ref: '#/$defs/reference' }, else: { $ref: '#/$defs/requestBody' } },
    requestBody: {
      type: 'object',
      required: ['content'],
      properties: { description: string, content: { $ref: '#/$defs/content' }, required: { type: 'boolean' } },
      patternProperties: extensible,
      additionalProperties: false,
    },
    content: { type: 'object', additionalProperties: { $ref: '#/$defs/mediaType' } },
    mediaType: {
      type: 'object',
      properties: { schema: jsonSchema, example: true, examples: { type: 'object' }, encoding: { type: 'object' } },
      patternProperties: extensible,
      additionalProperties: false,
    },
    responseOrRef: { if: { required: ['$ref'] }, then: { $ref: '#/$defs/reference' }, else: { $ref: '#/$defs/response' } },
    response: {
      type: 'object',
      required: ['description'],
      properties: {
        description: string,
        headers: { type: 'object', additionalProperties: { $ref: '#/$defs/headerOrRef' } },
        content: { $ref: '#/$defs/content' },
        links: { type: 'object' },
      },
      patternProperties: extensible,
      additionalProperties: false,
    },
    headerOrRef: { if: { required: ['$ref'] }, then: { $ref: '#/$defs/reference' }, else: { $ref: '#/$defs/header' } },
    header: {
      type: 'object',
      oneOf: [{ required: ['schema'] }, { required: ['content'] }],
      properties: {
        description: string,
        required: { type: 'boolean' },
        deprecated: { type: 'boolean' },
        style: { const: 'simple' },
        explode: { type: 'boolean' },
        schema: jsonSchema,
        content: { $ref: '#/$defs/content' },
        example: true,
        examples: { type: 'object' },
      },
      patternProperties: extensible,
      additionalProperties: false,
    },
  },
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every Schema Object of the document, with where it sits. */
function schemasOf(doc: Json): Array<[string, object]> {
  const found: Array<[string, object]> = [];
  const media = (where: string, content: unknown): void => {
    if (!isObject(content)) return;
    for (const [type, m] of Object.entries(content)) if (isObject(m) && isObject(m.schema)) found.push([`${where} ${type}`, m.schema]);
  };
  const components = isObject(doc.components) && isObject(doc.components.schemas) ? doc.components.schemas : {};
  for (const [name, s] of Object.entries(components)) if (isObject(s)) found.push([`components.schemas.${name}`, s]);
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const at = `${method.toUpperCase()} ${path}`;
      for (const p of Array.isArray(op.parameters) ? op.parameters : []) if (isObject(p) && isObject(p.schema)) found.push([`${at} parameter ${String(p.name)}`, p.schema]);
      if (isObject(op.requestBody)) media(`${at} requestBody`, op.requestBody.content);
      for (const [status, r] of Object.entries(isObject(op.responses) ? op.responses : {})) {
        if (!isObject(r)) continue;
        media(`${at} ${status}`, r.content);
        for (const [h, header] of Object.entries(isObject(r.headers) ? r.headers : {})) if (isObject(header) && isObject(header.schema)) found.push([`${at} ${status} header ${h}`, header.schema]);
      }
    }
  }
  return found;
}

/** The rules of the specification a JSON schema cannot state. */
function semanticProblems(doc: Json): string[] {
  const problems: string[] = [];
  const schemes = isObject(doc.components) && isObject(doc.components.securitySchemes) ? doc.components.securitySchemes : {};
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!isObject(item)) continue;
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const at = `${method.toUpperCase()} ${path}`;
      const params = (Array.isArray(op.parameters) ? op.parameters : []).filter(isObject);
      const declared = params.filter((p) => p.in === 'path').map((p) => p.name);
      for (const name of templated) if (!declared.includes(name)) problems.push(`${at}: path parameter ${name} is not declared`);
      for (const name of declared) if (!templated.includes(String(name))) problems.push(`${at}: path parameter ${String(name)} is not in the path`);
      const keys = params.map((p) => `${String(p.in)}:${String(p.name)}`);
      if (new Set(keys).size !== keys.length) problems.push(`${at}: a parameter is declared twice`);
      for (const requirement of Array.isArray(op.security) ? op.security : []) {
        for (const name of Object.keys(isObject(requirement) ? requirement : {})) if (!(name in schemes)) problems.push(`${at}: security scheme ${name} is not defined`);
      }
      if (typeof op.operationId === 'string') {
        if (operationIds.has(op.operationId)) problems.push(`${at}: operationId ${op.operationId} is used twice`);
        operationIds.add(op.operationId);
      }
    }
  }
  const text = JSON.stringify(doc);
  for (const [, ref] of text.matchAll(/"\$ref":"([^"]*)"/g)) {
    if (!ref?.startsWith('#/')) continue;
    let at: unknown = doc;
    for (const part of ref.slice(2).split('/')) at = isObject(at) ? at[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    if (at === undefined) problems.push(`$ref ${ref} points nowhere`);
  }
  return problems;
}

/** The problems of an OpenAPI 3.1 document; empty when it is valid as far as these checks reach. */
export function openApi31Problems(doc: unknown): string[] {
  if (!isObject(doc)) return ['the document is not an object'];
  const ajv = loadAjv2020();
  const structure = ajv.compile(STRUCTURE);
  const problems = structure(doc) ? [] : [`structure: ${ajv.errorsText(structure.errors)}`];
  for (const [where, schema] of schemasOf(doc)) {
    if (ajv.validateSchema(schema) !== true) problems.push(`${where}: not a JSON Schema 2020-12: ${ajv.errorsText(ajv.errors)}`);
  }
  return [...problems, ...semanticProblems(doc)];
}
