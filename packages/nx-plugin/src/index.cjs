module.exports = { pluginGenerator: require('./plugin/generator.cjs').default };
