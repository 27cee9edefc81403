export { run } from './main.js';
export { changedFilesOfPullRequest } from './changed-files.js';
