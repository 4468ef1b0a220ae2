import { buildProjectList, buildProjectView, type ProjectListTask, type ProjectTask } from './project-view.js';

type PypiWorkerTask = ProjectTask | ProjectListTask;

/** Runs in a piscina worker thread: large project pages and project lists, parsed and merged off the event loop. */
export default function pypiWorker(task: PypiWorkerTask) {
  return task.kind === 'list' ? buildProjectList(task) : buildProjectView(task);
}
