// Compression codecs for kafkajs, which has only gzip built in: snappy from
// kafkajs-snappy, LZ4 frames from lz4js and zstd from zstd-codec, all without native
// builds (node-gyp cannot fetch Node's headers on a machine without the Internet).
'use strict'

const SnappyCodec = require('kafkajs-snappy')
const lz4 = require('lz4js')
const { ZstdCodec } = require('zstd-codec')

function Lz4Codec () {
  return () => ({
    async compress (encoder) {
      return Buffer.from(lz4.compress(encoder.buffer))
    },
    async decompress (buffer) {
      return Buffer.from(lz4.decompress(buffer))
    },
  })
}

function zstdCodec () {
  return new Promise((resolve) => {
    ZstdCodec.run((zstd) => {
      const simple = new zstd.Simple()
      resolve(() => ({
        async compress (encoder) {
          return Buffer.from(simple.compress(encoder.buffer, 3))
        },
        async decompress (buffer) {
          return Buffer.from(simple.decompress(buffer))
        },
      }))
    })
  })
}

async function codecs () {
  return { snappy: SnappyCodec, lz4: Lz4Codec(), zstd: await zstdCodec() }
}

module.exports = { codecs }
