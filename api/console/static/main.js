// Entry point: the shell first, then every view (each registers itself), then start().
// Order matters only for app.js (the views import it); impact.js is helper B's graph view.
import { start } from './app.js';
import './impact.js';
import './search.js';
import './ci.js';
import './change.js';
import './root-cause.js';
import './audit.js';

start();
