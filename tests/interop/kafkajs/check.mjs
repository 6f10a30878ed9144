// KafkaJS, a Kafka client written in JavaScript (no librdkafka inside), against a running broker:
// metadata, produce, consume in a consumer group, committed offsets, and what admin.listGroups() answers.
// Usage: node check.mjs <bootstrap host:port> <topic that must exist> <its partition count>
// Prints one JSON report on stdout; exits 0 when every check held, 1 (with "error: ..." on stderr) otherwise.
import { randomUUID } from 'node:crypto'
import kafkajs from 'kafkajs'

const { Kafka, logLevel } = kafkajs
const [bootstrap, existingTopic, existingPartitions] = process.argv.slice(2)
if (!bootstrap || !existingTopic || !existingPartitions) {
  console.error('error: usage: node check.mjs <bootstrap host:port> <existing topic> <its partition count>')
  process.exit(2)
}

const records = 1000
const run = randomUUID().slice(0, 8)
const topic = `kafkajs-${run}` // does not exist yet: the producer's metadata request creates it
const groupId = `kafkajs-group-${run}`
const kafka = new Kafka({ clientId: 'ctr-kafkajs-check', brokers: [bootstrap], logLevel: logLevel.WARN, retry: { retries: 8 } })
const report = { bootstrap, topic, groupId, records }

function check(condition, message) {
  if (!condition) throw new Error(message)
}

function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const admin = kafka.admin()
const producer = kafka.producer({ allowAutoTopicCreation: true })
const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 })
try {
  await admin.connect()

  // Metadata: the brokers, and a topic the broker was started with.
  const cluster = await admin.describeCluster()
  report.brokers = cluster.brokers.map(b => `${b.nodeId}@${b.host}:${b.port}`)
  check(cluster.brokers.length >= 1, 'describeCluster named no broker')
  const existing = await admin.fetchTopicMetadata({ topics: [existingTopic] })
  report.existingTopicPartitions = existing.topics[0].partitions.length
  check(report.existingTopicPartitions === Number(existingPartitions),
    `${existingTopic} has ${report.existingTopicPartitions} partitions in the metadata, expected ${existingPartitions}`)

  // Produce: keys spread the records over the auto-created topic's partitions; acks from all replicas.
  await producer.connect()
  const sent = Array.from({ length: records }, (_, i) => ({ key: `k${i}`, value: `v${i}` }))
  for (let i = 0; i < records; i += 250)
    await producer.send({ topic, acks: -1, messages: sent.slice(i, i + 250) })
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] })
  report.partitions = metadata.topics[0].partitions.length
  const ends = await admin.fetchTopicOffsets(topic)
  report.produced = ends.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)
  check(report.produced === records, `the topic's offsets hold ${report.produced} records, ${records} were sent`)

  // Consume in a consumer group, committing each batch's offsets; every record once, keys and values intact.
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const seen = new Map()
  let done
  const allSeen = new Promise(resolve => { done = resolve })
  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 200,
    eachMessage: async ({ message }) => {
      seen.set(message.key.toString(), message.value.toString())
      if (seen.size === records) done()
    },
  })
  await withTimeout(allSeen, 60000, `consuming ${records} records`)
  report.consumed = seen.size
  check(sent.every(r => seen.get(r.key) === r.value), 'a consumed record differs from the one produced')
  await consumer.disconnect() // commits the offsets consumed last

  // Committed offsets, read back through the admin API (OffsetFetch): each partition's end.
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] })
  const committedByPartition = Object.fromEntries(committed[0].partitions.map(p => [p.partition, Number(p.offset)]))
  report.committed = committedByPartition
  for (const p of ends)
    check(committedByPartition[p.partition] === Number(p.high),
      `partition ${p.partition}: committed ${committedByPartition[p.partition]}, end offset ${p.high}`)

  // listGroups needs ListGroups (ApiKey 16), which the mock does not implement: report what the client says.
  try {
    const groups = await admin.listGroups()
    report.listGroups = { ok: true, groups: groups.groups.map(g => g.groupId) }
  } catch (e) {
    report.listGroups = { ok: false, error: `${e.name}: ${e.message}` }
  }

  console.log(JSON.stringify(report))
} catch (e) {
  console.log(JSON.stringify(report))
  console.error(`error: ${e.message}`)
  process.exitCode = 1
} finally {
  await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()])
}
