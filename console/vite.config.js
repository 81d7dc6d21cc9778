import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// Served by the backend at /console/ (app/console.py); `npm run dev` proxies the API.
export default defineConfig({
  base: '/console/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        manualChunks: {
          'element-plus': ['element-plus'],
          echarts: ['echarts'],
          leaflet: ['leaflet'],
        },
      },
    },
  },
  server: {
    proxy: { '/api': process.env.OTB_API || 'http://127.0.0.1:8000' },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.spec.js'],
  },
})
