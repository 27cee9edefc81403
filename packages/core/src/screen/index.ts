export { runScreen, type ScreenOptions } from './run.js';
export {
  SCREEN_NOTE,
  type ScreenResult,
  type ScreenDatasetReport,
  type ScreenScore,
  type ScreenRow,
  type ScreenRowScore,
  type ScreenDistribution,
  type ScreenFilterRate,
  type ScreenScoreKind,
} from './result.js';
export {
  formatRowScores,
  formatScreenMarkdown,
  formatScreenSarif,
  formatScreenHtml,
  writeScreenReports,
} from './reports.js';
