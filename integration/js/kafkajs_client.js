#!/usr/bin/env node
// kafkajs, driven by integration/test_clients_kafkajs.py.
//
//   node kafkajs_client.js < request.json
//
// The request, on stdin, is {"brokers": ["host:port"], "steps": [{"op": NAME, ...}, ...]}; each
// step runs in turn and its outcome is printed as one JSON document on stdout:
// {"results": [{"ok": <result>} | {"error": {...}}, ...]}. Bytes travel as base64
// (keys, values, header values); null stays null. A failed step does not stop the
// next one, so the caller sees every outcome. Logs go to stderr.
'use strict'

const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = require('kafkajs')
const { codecs } = require('./codecs')

const b64 = (text) => (text === null || text === undefined ? text : Buffer.from(text, 'base64'))

const COMPRESSION = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
}

function describeError (error) {
  const described = {
    name: error.name,
    type: error.type || null,
    code: error.code === undefined ? null : error.code,
    message: error.message,
    retriable: error.retriable === undefined ? null : error.retriable,
  }
  if (error.cause) described.cause = describeError(error.cause)
  if (Array.isArray(error.errors)) described.errors = error.errors.map(describeError)
  return described
}

function message (record) {
  const headers = {}
  for (const [name, value] of record.headers || []) {
    const bytes = b64(value)
    if (name in headers) {
      headers[name] = [].concat(headers[name], bytes)
    } else {
      headers[name] = bytes
    }
  }
  const out = { key: b64(record.key), value: b64(record.value), headers }
  if (record.timestamp !== null && record.timestamp !== undefined) {
    out.timestamp = String(record.timestamp)
  }
  if (record.partition !== undefined) out.partition = record.partition
  return out
}

const OPERATIONS = {
  // {topic, records, codec, acks, idempotent, batches, partition}
  async produce (kafka, step) {
    const producer = kafka.producer({
      idempotent: Boolean(step.idempotent),
      maxInFlightRequests: step.idempotent ? 1 : undefined,
      allowAutoTopicCreation: true,
      retry: { retries: step.retries === undefined ? 5 : step.retries },
    })
    await producer.connect()
    try {
      const batches = step.batches || 1
      const size = Math.ceil(step.records.length / batches)
      const acknowledged = []
      for (let start = 0; start < step.records.length; start += size) {
        const messages = step.records.slice(start, start + size).map((record) =>
          message({ ...record, partition: step.partition === undefined ? 0 : step.partition }))
        const metadata = await producer.send({
          topic: step.topic,
          acks: step.acks === undefined ? -1 : step.acks,
          compression: COMPRESSION[step.codec || 'none'],
          messages,
        })
        acknowledged.push(...metadata)
      }
      return acknowledged
    } finally {
      await producer.disconnect()
    }
  },

  async createTopics (kafka, step, admin) {
    return admin.createTopics({
      validateOnly: Boolean(step.validateOnly),
      waitForLeaders: step.waitForLeaders !== false,
      timeout: 30000,
      topics: step.topics,
    })
  },
  async fetchTopicMetadata (kafka, step, admin) {
    return admin.fetchTopicMetadata({ topics: step.topics })
  },
  async listTopics (kafka, step, admin) {
    return (await admin.listTopics()).sort()
  },
  async describeCluster (kafka, step, admin) {
    return admin.describeCluster()
  },
  async describeConfigs (kafka, step, admin) {
    return admin.describeConfigs({ includeSynonyms: false, resources: step.resources })
  },
  async alterConfigs (kafka, step, admin) {
    return admin.alterConfigs({ validateOnly: false, resources: step.resources })
  },
  async createPartitions (kafka, step, admin) {
    return admin.createPartitions({ timeout: 30000, topicPartitions: step.topicPartitions })
  },
  async deleteTopics (kafka, step, admin) {
    await admin.deleteTopics({ topics: step.topics, timeout: 30000 })
    return null
  },
  async fetchTopicOffsets (kafka, step, admin) {
    return admin.fetchTopicOffsets(step.topic)
  },
  async fetchTopicOffsetsByTimestamp (kafka, step, admin) {
    return admin.fetchTopicOffsetsByTimestamp(step.topic, step.timestamp)
  },
  async deleteTopicRecords (kafka, step, admin) {
    // kafkajs looks the leaders up in metadata it must have loaded already.
    await admin.fetchTopicMetadata({ topics: [step.topic] })
    await admin.deleteTopicRecords({ topic: step.topic, partitions: step.partitions })
    return null
  },
}

async function main () {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  for (const [name, codec] of Object.entries(await codecs())) {
    CompressionCodecs[COMPRESSION[name]] = codec
  }
  const kafka = new Kafka({
    clientId: 'odradek-it-kafkajs',
    brokers: request.brokers,
    connectionTimeout: 10000,
    requestTimeout: 30000,
    retry: { retries: 5, initialRetryTime: 100 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log }) => {
      process.stderr.write(JSON.stringify({ level, namespace, ...log }) + '\n')
    },
  })
  const admin = kafka.admin()
  await admin.connect()
  const results = []
  try {
    for (const step of request.steps) {
      try {
        const result = await OPERATIONS[step.op](kafka, step, admin)
        results.push({ ok: result === undefined ? null : result })
      } catch (error) {
        results.push({ error: describeError(error) })
      }
    }
  } finally {
    await admin.disconnect()
  }
  process.stdout.write(JSON.stringify({ results }) + '\n')
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ fatal: describeError(error) }) + '\n')
  process.exitCode = 1
})
