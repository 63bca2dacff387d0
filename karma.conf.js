// Karma: runs the prebuilt IIFE test bundle once in headless Debian Chromium
// (cpu, webgl and webgpu test envs; see test/browser_entry.ts).
//
// `npm test` builds the bundle (scripts/bundle.mjs, platform 'browser') and
// starts karma with these environment variables:
//   SLUICE_KARMA_BUNDLE  bundle to load (default .build/tests/browser.js)
//   SLUICE_GREP          only specs whose full name contains this substring
//   CHROME_BIN           browser binary (default /usr/bin/chromium)
//   SLUICE_CHROME_PROFILE  fresh --user-data-dir (default: a new folder in .tmp/)
// By hand: `node scripts/test.mjs --browser-only [--grep text]`.
const fs = require('node:fs');
const path = require('node:path');

const ROOT = __dirname;
const TMP = path.join(ROOT, '.tmp');
const bundle = path.resolve(ROOT, process.env.SLUICE_KARMA_BUNDLE || '.build/tests/browser.js');
const grep = process.env.SLUICE_GREP || '';

// Hands the bundle's inline source map to karma, so stack traces in failures
// point at the TypeScript sources (karma maps them when file.sourceMap is set).
function inlineSourceMapPreprocessor() {
  return (content, file, done) => {
    const at = content.lastIndexOf('//# sourceMappingURL=data:application/json;base64,');
    if (at >= 0) {
      try {
        const base64 = content.slice(content.indexOf(',', at) + 1).trim();
        file.sourceMap = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
      } catch (e) {
        // Unmapped stack traces are still usable.
      }
    }
    done(content);
  };
}

module.exports = function(config) {
  if (!fs.existsSync(bundle)) {
    throw new Error(`karma.conf.js: test bundle ${bundle} does not exist; run \`node scripts/test.mjs --browser-only\``);
  }
  process.env.CHROME_BIN = process.env.CHROME_BIN || '/usr/bin/chromium';
  fs.mkdirSync(TMP, {recursive: true});
  // A fresh Chromium profile per run inside the repo: scripts/test.mjs makes
  // one and removes it after karma exits; run by hand, karma.conf.js does.
  let profile = process.env.SLUICE_CHROME_PROFILE;
  if (!profile) {
    profile = fs.mkdtempSync(path.join(TMP, 'chromium-profile-'));
    process.on('exit', () => {
      try {
        fs.rmSync(profile, {recursive: true, force: true, maxRetries: 3});
      } catch (e) {
        // Chromium may still be writing while it shuts down; a leftover in .tmp/ is harmless.
      }
    });
  }
  // karma's own temp dir, and Chromium's shared memory files under --disable-dev-shm-usage.
  process.env.TMPDIR = process.env.TMPDIR || TMP;

  config.set({
    basePath: ROOT,
    frameworks: ['jasmine'],
    plugins: [
      'karma-jasmine', 'karma-chrome-launcher', require('./scripts/karma_reporter.cjs'),
      {'preprocessor:sluice-inline-sourcemap': ['factory', inlineSourceMapPreprocessor]},
    ],
    files: [{pattern: bundle, watched: false, included: true, served: true}],
    preprocessors: {[bundle]: ['sluice-inline-sourcemap']},
    reporters: ['sluice'],
    // localhost is a secure context, which WebGPU requires.
    hostname: 'localhost',
    listenAddress: '127.0.0.1',
    port: 9876,  // karma moves to the next free port when this one is taken
    autoWatch: false,
    singleRun: true,
    concurrency: 1,
    browsers: ['SluiceChromiumHeadless'],
    customLaunchers: {
      SluiceChromiumHeadless: {
        base: 'ChromeHeadless',
        // karma-chrome-launcher runs process.env.CHROME_BIN; default it to Debian's chromium.
        chromeDataDir: profile,
        flags: [
          '--headless=new',
          '--no-sandbox',  // CI runs as root
          '--enable-unsafe-webgpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          '--disable-dev-shm-usage',
          // Software WebGL (SwiftShader) without a GPU: Chromium warns that its automatic
          // fallback is deprecated and asks for this opt-in; fine for trusted test pages.
          '--enable-unsafe-swiftshader',
          // A free port instead of the launcher's fixed 9222, so parallel runs do not collide.
          '--remote-debugging-port=0',
        ],
      },
    },
    client: {
      args: grep ? ['--grep', grep] : [],
      captureConsole: true,
      clearContext: true,
      jasmine: {random: false, timeoutInterval: 5 * 60 * 1000},
      sluiceLabel: 'browser',
    },
    browserConsoleLogOptions: {level: 'debug', terminal: true},
    // Software GPUs (SwiftShader) are slow; one spec may hold the main thread for a while.
    captureTimeout: 3 * 60 * 1000,
    browserNoActivityTimeout: 20 * 60 * 1000,
    browserDisconnectTimeout: 60 * 1000,
    browserDisconnectTolerance: 0,
    // A crashed browser is a failure: karma's relaunch would not resume the run.
    retryLimit: 0,
    pingTimeout: 10 * 60 * 1000,
    processKillTimeout: 10 * 1000,
    logLevel: config.LOG_INFO,
    colors: false,
  });
};
