// @hey-api/openapi-ts configuration; run through ../generate.sh, which pins
// the generator and Node. The output folder is replaced whole on every run.
export default {
  input: '../../openapi/openapi.json',
  output: {
    path: process.env.TENANTRY_TS_OUT ?? 'src/generated',
    tsConfigPath: './tsconfig.json',
    module: { extension: '.js' },
  },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
};
