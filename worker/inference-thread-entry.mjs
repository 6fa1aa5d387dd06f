// Worker-thread bootstrap: registers tsx inside the thread (Node 20 threads ignore --import), then loads the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import('./inference-thread.ts');
