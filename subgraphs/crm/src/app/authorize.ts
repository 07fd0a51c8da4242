export { requireScope } from '@mauntic/kernel';
